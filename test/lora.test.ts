/**
 * LoRA routing through the real processes: a request naming an adapter matches the route that
 * lists it, keeps the adapter name in the body, and lands on the pod that serves the adapter
 * (lora-affinity, from the pods' /v1/models and vllm:lora_requests_info as scraped); an adapter
 * loaded on a pod at run time draws its requests there once the data plane has scraped it; an
 * adapter no route lists is refused with 404.
 */
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const NET = 33;
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

const objects = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: llama}
spec:
  model: llama-3-8b
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: llama}}
  workloadPort: {port: 8000}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: llama}
spec:
  modelName: llama-3-8b
  loraAdapters: [ad-a, ad-b, ad-late]
  rules:
  - targetModels: [{modelServerName: llama}]
`;

// Kthena dialect: lora-affinity filters to the best residency tier and scores, least-request breaks ties.
const routerConfig = `apiVersion: v1
kind: ConfigMap
metadata: {name: sluice-router-config}
data:
  schedulerConfiguration: |-
    plugins:
      Filter:
        enabled: [least-request, lora-affinity]
      Score:
        enabled:
        - {name: lora-affinity, weight: 2}
        - {name: least-request, weight: 1}
`;

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: NET,
    timeScale: 20,
    dataplaneArgs: ['--decision-header', 'true', '--scrape-interval-ms', '100'],
    files: { 'objects.yaml': objects, 'pods.yaml': pods, 'router-config.yaml': routerConfig },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

interface PodDump { pod: string; metrics: { stale: boolean; lora: { active: string[]; registered?: string[]; maxLoras: number | null } | null } }

async function loraView(): Promise<Map<string, PodDump['metrics']>> {
  const d = (await (await request(`${sluice.adminUrl}/debug/config_dump/pods`, { headers: { authorization: `Bearer ${sluice.token}` } })).body.json()) as { pods: PodDump[] };
  return new Map(d.pods.map((p) => [p.pod, p.metrics]));
}

async function send(model: string) {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'tell me a story', max_tokens: 4 }) });
  const body = (await res.body.json()) as { model?: string; sim?: { pod: string }; error?: { code: string } };
  return { status: res.statusCode, header: res.headers['x-sim-pod'], decision: String(res.headers['x-sluice-decision'] ?? ''), body };
}

describe('LoRA adapters', () => {
  beforeAll(async () => {
    // Every pod scraped, its adapters (from /v1/models) and slot count (from /metrics) known.
    await waitFor('every pod scraped with its LoRA state', async () => {
      const v = await loraView();
      return v.size === 3 && [...v.values()].every((m) => !m.stale && m.lora?.maxLoras === 4)
        && v.get('default/llama-a')!.lora!.registered?.includes('ad-a') && v.get('default/llama-b')!.lora!.registered?.includes('ad-b');
    });
  });

  it('sends each adapter to the pod that has it, with the adapter name kept in the body', async () => {
    // Interleaved, and each adapter's requests concurrent, so least-request alone would spread them.
    const results = await Promise.all(['ad-a', 'ad-b', 'ad-a', 'ad-b', 'ad-a', 'ad-b', 'ad-a', 'ad-b'].map(async (m) => ({ m, r: await send(m) })));
    for (const { m, r } of results) {
      expect(r.status).toBe(200);
      const want = m === 'ad-a' ? 'llama-a' : 'llama-b';
      expect(r.body.sim?.pod).toBe(want);
      expect(r.header).toBe(want);
      expect(r.body.model).toBe(m);
      expect(r.decision).toMatch(new RegExp(`^endpoint=default/${want}; profile=default; total=[\\d.]+; lora-affinity=(?:1\\.000|0\\.500)\\*2; least-request=[\\d.]+\\*1$`));
    }
  });

  it('follows an adapter loaded on a pod at run time, once the data plane has scraped it', async () => {
    expect([...(await loraView()).values()].some((m) => m.lora!.registered?.includes('ad-late'))).toBe(false);
    const load = await request(`http://${ipOf('llama-c')}:8000/v1/load_lora_adapter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lora_name: 'ad-late', lora_path: '/adapters/ad-late' }) });
    expect(load.statusCode).toBe(200);
    await load.body.dump();
    // /v1/models is fetched every 5 s; the default waitFor deadline covers it.
    await waitFor('ad-late registered on llama-c', async () => (await loraView()).get('default/llama-c')!.lora!.registered?.includes('ad-late'));
    const results = await Promise.all(Array.from({ length: 6 }, () => send('ad-late')));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.sim?.pod).toBe('llama-c');
      // Registered there and a slot free (0.5); the other pods do not list it at all (0).
      expect(r.decision).toMatch(/^endpoint=default\/llama-c; .*lora-affinity=0\.500\*2/);
    }
  });

  it('refuses an adapter no route lists with 404, without asking an engine', async () => {
    const r = await send('ad-nobody');
    expect(r.status).toBe(404);
    expect(r.body.error?.code).toBe('SLUICE_MODEL_NOT_FOUND');
    expect(r.header).toBeUndefined();
  });
});
