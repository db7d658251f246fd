/**
 * A LoRA request that reaches an engine without the adapter: with no lora-affinity (the scheduler
 * does not know who has which adapter), the engine's 404 ("The model `x` does not exist") moves
 * the request to the next endpoint at no retry cost, until one has the adapter. The last
 * endpoint's 404 is passed through unchanged, so an adapter no pod has still reads as vLLM's 404.
 */
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll } from './helpers/processes';

const NET = 71;
const PODS = [
  { name: 'llama-a', loras: 'ad-a' },
  { name: 'llama-b', loras: 'ad-b' },
  { name: 'llama-c', loras: '' },
];
const ipOf = (name: string) => `127.${NET}.0.${PODS.findIndex((p) => p.name === name) + 1}`;

const pods = PODS.map((p) => `apiVersion: v1
kind: Pod
metadata:
  name: ${p.name}
  labels: {app: llama}
  annotations: {sim.sluice.dev/loras: "${p.loras}"}
status:
  phase: Running
  podIP: ${ipOf(p.name)}
  conditions: [{type: Ready, status: "True"}]
`).join('---\n');

// No retry attempts: the LoRA failover must not need them.
const objects = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: llama}
spec:
  model: llama-3-8b
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: llama}}
  workloadPort: {port: 8000}
  trafficPolicy: {retry: {attempts: 0}}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: llama}
spec:
  modelName: llama-3-8b
  loraAdapters: [ad-a, ad-b, ad-ghost]
  rules:
  - targetModels: [{modelServerName: llama}]
`;

// Least-request only: no lora-affinity, so the first choice often lacks the adapter.
const routerConfig = `apiVersion: v1
kind: ConfigMap
metadata: {name: sluice-router-config}
data:
  schedulerConfiguration: |-
    plugins:
      Score:
        enabled:
        - {name: least-request, weight: 1}
`;

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: NET,
    timeScale: 20,
    files: { 'objects.yaml': objects, 'pods.yaml': pods, 'router-config.yaml': routerConfig },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function send(model: string) {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'tell me a story', max_tokens: 4 }) });
  const body = (await res.body.json()) as { model?: string; sim?: { pod: string }; error?: { message: string; code: unknown } };
  return { status: res.statusCode, body };
}

/** sluice_upstream_failovers_total for the server and reason, from the admin /metrics. */
async function failovers(reason: string): Promise<number> {
  const text = await (await request(`${sluice.adminUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_upstream_failovers_total{') && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('an engine 404 for a LoRA adapter it has not loaded', () => {
  it('fails over to a pod that has the adapter, without a retry attempt', async () => {
    const before = await failovers('lora-not-loaded');
    // Concurrent, so least-request spreads first choices over all three pods.
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => send(i % 3 === 0 ? 'ad-a' : 'ad-b')));
    results.forEach((r, i) => {
      const want = i % 3 === 0 ? ['ad-a', 'llama-a'] : ['ad-b', 'llama-b'];
      expect([r.status, r.body.model, r.body.sim?.pod]).toEqual([200, ...want]);
    });
    // Some first choices lacked the adapter (else this test proves nothing).
    expect(await failovers('lora-not-loaded')).toBeGreaterThan(before);
  });

  it('passes the last endpoint 404 through when no pod has the adapter, after trying each pod once', async () => {
    const before = await failovers('lora-not-loaded');
    const r = await send('ad-ghost');
    expect(r.status).toBe(404);
    expect(r.body.error?.message).toBe('The model `ad-ghost` does not exist.');
    expect(await failovers('lora-not-loaded')).toBe(before + PODS.length - 1);
  });
});
