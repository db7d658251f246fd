/**
 * The fairness queue through a real data plane and simulated engines: a heavy user with ten times
 * the outstanding requests of five light users gets about the same share of served tokens as
 * each of them (Jain's index ≥ 0.9, where arrival order would give about 0.36), identities come
 * from a header set by a trusted gateway (no JWT), a client that disconnects while queued leaves
 * the queue at once, and a request that waits past the queue TTL gets 503 SLUICE_QUEUE_TIMEOUT.
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'undici';
import { readyPodYaml } from '../hack/sim-pods';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const SUBNET = 32;

const server = (name: string, annotations: Record<string, string>) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
  namespace: default
  annotations:
${Object.entries(annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}
spec:
  workloadSelector:
    matchLabels:
      app: ${name}
  workloadPort:
    port: 8000
  model: "sim-model"
  inferenceEngine: "vLLM"
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: ${name}
  namespace: default
spec:
  modelName: "${name}"
  rules:
  - targetModels:
    - modelServerName: "${name}"
`;

const pod = (name: string, app: string, ip: string) => `${readyPodYaml(name, { app }, ip)}---\n`;

let sluice: LocalSluice;
/** The test's own connections, closed before the processes stop so none outlives the test. */
const agent = new Agent();

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: SUBNET,
    timeScale: 20,
    dataplaneArgs: ['--access-log', 'false'],
    files: {
      'fair.yaml': server('fair', { 'inference.networking.x-k8s.io/queueing': 'enabled', 'sluice.dev/max-in-flight-per-endpoint': '2' }),
      'ttl.yaml': server('ttl', { 'inference.networking.x-k8s.io/queueing': 'enabled', 'inference-epp-env.networking.x-k8s.io/queue-ttl': '300ms', 'sluice.dev/max-in-flight-per-endpoint': '1' }),
      'pods.yaml': pod('fair-0', 'fair', `127.${SUBNET}.0.1`) + pod('fair-1', 'fair', `127.${SUBNET}.0.2`) + pod('ttl-0', 'ttl', `127.${SUBNET}.0.3`),
      'router.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sluice-router-config\n  namespace: default\ndata:\n  routerConfiguration: |-\n    identity:\n      userHeader: x-user-id\n    fairness:\n      window: 30s\n',
    },
  });
}, 60_000);

afterAll(async () => {
  await agent.destroy();
  await stopAll();
  sluice?.cleanup();
});

/** One completion of `tokens` output tokens for `user`; resolves with served tokens or the error code. */
async function send(model: string, user: string, tokens: number, signal?: AbortSignal): Promise<{ status: number; served: number; code?: string }> {
  const res = await request(`${sluice.url}/v1/completions`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model, prompt: `question from ${user}`, max_tokens: tokens, ignore_eos: true }),
    signal,
  });
  const body = (await res.body.json()) as { usage?: { prompt_tokens: number; completion_tokens: number }; error?: { code: string } };
  return { status: res.statusCode, served: body.usage ? body.usage.prompt_tokens + body.usage.completion_tokens : 0, code: body.error?.code };
}

const jain = (xs: number[]) => xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0));

async function queueStats(): Promise<Record<string, { queued: number; totals: Record<string, number> }>> {
  const res = await request(`${sluice.adminUrl}/debug/config_dump/queues`, { headers: { authorization: `Bearer ${sluice.token}` } });
  return ((await res.body.json()) as { queues: Record<string, { queued: number; totals: Record<string, number> }> }).queues;
}

describe('fairness queue', () => {
  it('gives a heavy user and five light users near-equal shares of served tokens', async () => {
    // Capacity: 2 pods × 2 in flight. Outstanding: heavy 20, each light user 2 — everyone is backlogged.
    const users = { heavy: 20, light1: 2, light2: 2, light3: 2, light4: 2, light5: 2 };
    const served: Record<string, number> = Object.fromEntries(Object.keys(users).map((u) => [u, 0]));
    const stop = new AbortController();
    setMaxListeners(64, stop.signal);
    let total = 0;
    const target = 150;
    const deadline = Date.now() + 30_000;
    const loops = Object.entries(users).flatMap(([user, n]) => Array.from({ length: n }, async () => {
      while (!stop.signal.aborted && Date.now() < deadline) {
        try {
          const r = await send('fair', user, 16, stop.signal);
          if (stop.signal.aborted) return;
          expect(r.status).toBe(200);
          served[user]! += r.served;
          if (++total >= target) stop.abort();
        } catch (err) {
          if (stop.signal.aborted) return;
          throw err;
        }
      }
    }));
    await Promise.all(loops);
    expect(total).toBeGreaterThanOrEqual(target);
    const shares = Object.values(served);
    const index = jain(shares);
    if (process.env.SLUICE_TEST_REPORT) process.stdout.write(`served tokens ${JSON.stringify(served)}; Jain ${index.toFixed(3)}\n`);
    expect(index).toBeGreaterThanOrEqual(0.9);
    // Arrival order would serve users in proportion to their outstanding requests.
    expect(jain(Object.values(users))).toBeLessThan(0.4);
    // Every request queued by the heavy user and aborted at the end left the queue.
    await waitFor('the queue to empty', async () => (await queueStats())['default/fair']?.queued === 0);
  });

  it('removes a request from the queue at once when its client disconnects', async () => {
    const hold = new AbortController();
    // Fill both pods' two slots with long requests, then queue one more and hang up.
    const busy = Array.from({ length: 4 }, () => send('fair', 'busy', 400, hold.signal).catch(() => null));
    await waitFor('the slots to fill', async () => {
      const res = await request(`${sluice.adminUrl}/debug/config_dump/pods`, { headers: { authorization: `Bearer ${sluice.token}` } });
      const pods = ((await res.body.json()) as { pods: { server: string; inFlight: number }[] }).pods;
      return pods.filter((p) => p.server === 'default/fair').every((p) => p.inFlight === 2);
    });
    const before = (await queueStats())['default/fair']!.totals.cancelled ?? 0;
    const leaving = new AbortController();
    const queued = send('fair', 'impatient', 4, leaving.signal).then(() => 'answered', (e: Error) => e.name);
    await waitFor('the request to queue', async () => (await queueStats())['default/fair']!.queued === 1);
    leaving.abort();
    expect(await queued).toBe('AbortError');
    await waitFor('the queue to drop it', async () => {
      const q = (await queueStats())['default/fair']!;
      return q.queued === 0 && (q.totals.cancelled ?? 0) === before + 1;
    }, 2000);
    hold.abort();
    await Promise.all(busy);
  });

  it('answers 503 SLUICE_QUEUE_TIMEOUT to a request that waits past the queue TTL', async () => {
    const hold = new AbortController();
    const busy = send('ttl', 'a', 2000, hold.signal).catch(() => null);
    await waitFor('the slot to fill', async () => {
      const res = await request(`${sluice.adminUrl}/debug/config_dump/pods`, { headers: { authorization: `Bearer ${sluice.token}` } });
      const pods = ((await res.body.json()) as { pods: { server: string; inFlight: number }[] }).pods;
      return pods.find((p) => p.server === 'default/ttl')?.inFlight === 1;
    });
    const started = Date.now();
    const late = await send('ttl', 'b', 4);
    expect(late.status).toBe(503);
    expect(late.code).toBe('SLUICE_QUEUE_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    hold.abort();
    await busy;
  });
});
