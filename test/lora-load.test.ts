/**
 * Opt-in LoRA loading through the real data plane and simulator: a ModelServer annotated
 * `sluice.dev/lora-load: enabled` gets an adapter no pod has loaded on the scheduler's choice
 * (vLLM's /v1/load_lora_adapter, path from the template), once even under concurrent requests,
 * and later requests stay on that pod; without the annotation the engine's own answer passes.
 */
import { request } from 'undici';
import { readyPodYaml } from '../hack/sim-pods';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const SUBNET = 35;
const PODS = [`127.${SUBNET}.0.1`, `127.${SUBNET}.0.2`];

const objects = (name: string, annotations: string, adapters: string[], ips: string[]) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
  namespace: default
  annotations:
${annotations || '    sluice.dev/note: "plain"'}
spec:
  workloadSelector:
    matchLabels:
      app: ${name}
  workloadPort:
    port: 8000
  model: "base-model"
  inferenceEngine: "vLLM"
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: ${name}
  namespace: default
spec:
  loraAdapters: [${adapters.map((a) => `"${a}"`).join(', ')}]
  rules:
  - targetModels:
    - modelServerName: "${name}"
${ips.map((ip, i) => `---\n${readyPodYaml(`${name}-${i}`, { app: name }, ip)}`).join('')}`;

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: SUBNET,
    timeScale: 100,
    dataplaneArgs: ['--decision-header', 'true'],
    files: {
      'load.yaml': objects('lora-load', '    sluice.dev/lora-load: "enabled"\n    sluice.dev/lora-path-template: "/models/loras/{name}"', ['fresh-a', 'fresh-b'], PODS),
      'plain.yaml': objects('no-load', '', ['never-loaded'], [`127.${SUBNET}.0.3`]),
    },
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function complete(model: string): Promise<{ status: number; pod: string }> {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: 'adapt me', max_tokens: 2 }) });
  await res.body.dump();
  return { status: res.statusCode, pod: /endpoint=default\/([^;]+)/.exec(String(res.headers['x-sluice-decision']))?.[1] ?? '' };
}

/** Which simulated pods list the adapter in /v1/models. */
async function holders(adapter: string): Promise<string[]> {
  const out: string[] = [];
  for (const [i, ip] of PODS.entries()) {
    const res = await request(`http://${ip}:8000/v1/models`);
    const models = (await res.body.json()) as { data: { id: string }[] };
    if (models.data.some((m) => m.id === adapter)) out.push(`lora-load-${i}`);
  }
  return out;
}

describe('LoRA adapters loaded on demand', () => {
  it('loads an adapter no pod has on the chosen pod, and keeps sending it there', async () => {
    expect(await holders('fresh-a')).toEqual([]);
    const first = await complete('fresh-a');
    expect(first.status).toBe(200);
    expect(await holders('fresh-a')).toEqual([first.pod]);
    // Once a scrape has seen it too, lora-affinity keeps the adapter's requests on that pod.
    await waitFor('a scrape listing the adapter', async () => {
      const res = await request(`${sluice.adminUrl}/debug/config_dump/pods`, { headers: { authorization: `Bearer ${sluice.token}` } });
      const pods = ((await res.body.json()) as { pods: { pod: string; metrics: { lora: { registered?: string[] } | null } }[] }).pods;
      return pods.some((p) => p.pod === `default/${first.pod}` && p.metrics.lora?.registered?.includes('fresh-a'));
    });
    for (let i = 0; i < 4; i++) expect((await complete('fresh-a')).pod).toBe(first.pod);
    expect(await holders('fresh-a')).toEqual([first.pod]);
  });

  it('loads once when several requests for a new adapter arrive together', async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => complete('fresh-b')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await holders('fresh-b')).toHaveLength(1);
  });

  it('without the annotation leaves the adapter to the engine, whose answer passes through', async () => {
    const r = await complete('never-loaded');
    expect(r.status).toBe(404);
  });
});
