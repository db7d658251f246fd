/**
 * Model-aware scheduling through the real processes: engine metrics scraped from the simulator,
 * the decision header showing each plugin's score, the seed configurations (Kthena ConfigMap,
 * EndpointPickerConfig) applied live without a restart, a bad configuration refused while the last
 * valid one keeps running, and prefix affinity keeping a shared system prompt on one pod.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { ROOT, stopAll, waitFor } from './helpers/processes';

const NET = 26;
const pods = [0, 1, 2].map((i) => `apiVersion: v1
kind: Pod
metadata:
  name: qwen-${i}
  labels:
    app: qwen
status:
  phase: Running
  podIP: 127.${NET}.0.${i + 1}
  conditions:
  - type: Ready
    status: "True"
`).join('---\n');

const objects = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: qwen
spec:
  model: Qwen/Qwen2.5-7B-Instruct
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels:
      app: qwen
  workloadPort:
    port: 8000
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: qwen
spec:
  modelName: qwen
  rules:
  - targetModels:
    - modelServerName: qwen
`;

const example = (name: string) => readFileSync(join(ROOT, 'manifests', 'examples', 'scheduler', name), 'utf8');

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: NET,
    timeScale: 20,
    dataplaneArgs: ['--decision-header', 'true', '--scrape-interval-ms', '200'],
    files: { 'objects.yaml': objects, 'pods.yaml': pods },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function send(prompt: string) {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen', prompt, max_tokens: 2 }) });
  await res.body.dump();
  return { status: res.statusCode, pod: String(res.headers['x-sim-pod']), decision: String(res.headers['x-sluice-decision']) };
}

async function dump(what: string) {
  return (await (await request(`${sluice.adminUrl}/debug/config_dump/${what}`, { headers: { authorization: `Bearer ${sluice.token}` } })).body.json()) as Record<string, unknown>;
}

async function reconfigure(file: string, text: string | null) {
  const v = await sluice.servingVersion();
  if (text === null) unlinkSync(join(sluice.dir, file));
  else writeFileSync(join(sluice.dir, file), text);
  await sluice.waitForVersionAbove(v);
}

describe('scheduling', () => {
  it('scrapes every engine and shows the built-in configuration in the decision header', async () => {
    await waitFor('every pod scraped', async () => {
      const p = (await dump('pods')).pods as { metrics: { stale: boolean; scrapedAt: number } }[];
      return p.length === 3 && p.every((x) => !x.metrics.stale && x.metrics.scrapedAt > 0);
    });
    const r = await send('hello');
    expect(r.status).toBe(200);
    expect(r.decision).toMatch(/^endpoint=default\/qwen-\d; profile=default; total=[\d.]+; least-request=[\d.]+\*1; kv-cache-utilization-scorer=[\d.]+\*1; prefix-cache-scorer=[\d.]+\*1$/);
    expect(r.decision).toContain(`endpoint=default/${r.pod}`);
  });

  it('applies the seed Kthena ConfigMap live, and dumps the normalised form', async () => {
    await reconfigure('router-config.yaml', example('kthena-router-config.yaml'));
    const r = await send('hello');
    expect(r.decision).toMatch(/least-request=[\d.]+\*1; kv-cache=[\d.]+\*1; least-latency=[\d.]+\*1; prefix-cache=[\d.]+\*1$/);
    const d = await dump('scheduler');
    const cfg = (d.configs as Record<string, { source: string; plugins: { name: string; type: string; parameters: Record<string, unknown> }[] }>)['default/kthena-router-config']!;
    expect(cfg.source).toBe('kthena');
    expect(cfg.plugins.find((p) => p.name === 'prefix-cache')).toMatchObject({ type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 128, maxHashCacheSize: 50000 } });
    expect((d.servers as Record<string, string>)['default/qwen']).toBe('default/kthena-router-config');
  });

  it('refuses a bad configuration with the field named, and keeps running the last valid one', async () => {
    const v = await sluice.servingVersion();
    writeFileSync(join(sluice.dir, 'router-config.yaml'), example('kthena-router-config.yaml').replace(/(- name: kv-cache\n\s+)weight: 1/, '$1wieght: 1'));
    const issue = await waitFor('the bad weight reported', async () =>
      (await sluice.status()).issues.find((i) => i.object === 'ConfigMap default/kthena-router-config' && /plugins\.Score\.enabled\[1\]/.test(i.path)));
    expect(issue.path).toContain('data.schedulerConfiguration');
    const cond = (await sluice.status()).objects['ModelServer/default/qwen']!.conditions.find((c) => c.type === 'SchedulerConfigured')!;
    expect(cond.status).toBe('False');
    expect(cond.message).toMatch(/Running its last valid version/);
    expect(await sluice.servingVersion()).toBe(v);
    expect((await send('hello')).decision).toMatch(/least-latency=/);
  });

  it('applies the seed EndpointPickerConfig, and prefix affinity keeps a shared system prompt on one pod', async () => {
    await reconfigure('router-config.yaml', null);
    await reconfigure('router-config.yaml', example('endpoint-picker-config.yaml'));
    const system = 'You are a helpful assistant for the city of San Francisco. '.repeat(40);
    const first = await send(`${system}Question 0?`);
    expect(first.decision).toMatch(/profile=default; total=[\d.]+; prefix-cache-scorer=[\d.]+\*50$/);
    const pods = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const r = await send(`${system}Question ${i}?`);
      // hashBlockSize 5 × 256 blocks covers the first 1,280 characters: all of them shared.
      expect(r.decision).toMatch(/prefix-cache-scorer=1\.000\*50$/);
      pods.add(r.pod);
    }
    expect([...pods]).toEqual([first.pod]);
  });
});
