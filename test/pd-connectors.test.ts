/**
 * Prefill/decode disaggregation through the real data plane and operator, against recording
 * engines (one small HTTP server per pod) so every body the router sends can be checked exactly:
 * seed scenario 5's YAML as written (http connector), nixl (prefill with max_tokens 1 and
 * kv_transfer_params, decode with the prefill's params, streamed), SGLang (bootstrap fields in
 * both, sent together), pairs always within one group, and a failing prefill failing over to the
 * next pair. The engine simulator's own PD checks are exercised in hack/engine-sim's tests.
 */
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { request } from 'undici';
import { readyPodYaml } from '../hack/sim-pods';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { ROOT, stopAll } from './helpers/processes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SUBNET = 34;
const GROUPS = { 'group-0': { prefill: `127.${SUBNET}.0.41`, decode: `127.${SUBNET}.0.42` }, 'group-1': { prefill: `127.${SUBNET}.0.43`, decode: `127.${SUBNET}.0.44` } };
const groupOfIp = new Map(Object.entries(GROUPS).flatMap(([g, ips]) => [[ips.prefill, g], [ips.decode, g]]));
const PREFILL_IPS = new Set(Object.values(GROUPS).map((g) => g.prefill));
const SERVER_MODEL = 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B';

const pdExample = (name: string) => readFileSync(join(ROOT, 'manifests', 'examples', 'pd-disaggregation', name), 'utf8');

/** One request an engine received. */
interface Seen { ip: string; body: Record<string, unknown>; at: number }

/** Recording engines: answer like vLLM/SGLang would for each protocol and keep every body. */
class Recorders {
  readonly seen: Seen[] = [];
  readonly failing = new Set<string>();
  /** SGLang rooms whose decode request arrived while the prefill request was still unanswered. */
  readonly together = new Set<unknown>();
  private readonly servers: Server[] = [];

  async start(): Promise<void> {
    for (const ip of groupOfIp.keys()) {
      const server = createServer((req, res) => {
        let text = '';
        req.on('data', (d: Buffer) => { text += d.toString(); });
        req.on('end', () => void this.answer(ip, req.method === 'POST' ? req.url ?? '' : '', text, res));
      });
      await new Promise<void>((r) => server.listen(8000, ip, r));
      this.servers.push(server);
    }
  }

  private async answer(ip: string, url: string, text: string, res: import('node:http').ServerResponse): Promise<void> {
    // Scrapes (GET /metrics, /v1/models) find nothing here; only inference POSTs are recorded.
    if (!url.startsWith('/v1/')) return void res.writeHead(404).end();
    const body = JSON.parse(text) as Record<string, unknown>;
    this.seen.push({ ip, body, at: performance.now() });
    if (this.failing.has(ip)) return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}');
    const kv = body.kv_transfer_params as { do_remote_decode?: boolean } | undefined;
    const usage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };
    if (kv?.do_remote_decode) {
      return void json(res, { id: 'p', object: 'text_completion', choices: [{ index: 0, text: 'x', finish_reason: 'length' }], usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
        kv_transfer_params: { do_remote_prefill: true, do_remote_decode: false, remote_engine_id: `engine-${ip}`, remote_block_ids: [1, 2, 3], remote_host: ip, remote_port: 8000, tp_size: 1 } });
    }
    if (body.bootstrap_room !== undefined && PREFILL_IPS.has(ip)) {
      // An SGLang prefill pod: answer only once the decode half of the same room has arrived.
      const deadline = performance.now() + 2000;
      const decodeArrived = () => this.seen.some((s) => s.body.bootstrap_room === body.bootstrap_room && s.ip !== ip);
      // Bounded by the deadline: a router that waited for this answer first would never send the decode.
      while (!decodeArrived() && performance.now() < deadline) await new Promise((r) => setImmediate(r));
      if (decodeArrived()) this.together.add(body.bootstrap_room);
      return void json(res, { id: 'p', object: 'text_completion', choices: [{ index: 0, text: 'x', finish_reason: 'length' }], usage });
    }
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of ['a', 'b', 'c']) res.write(`data: ${JSON.stringify({ id: 'd', object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ id: 'd', object: 'chat.completion.chunk', model: body.model, choices: [], usage })}\n\n`);
      return void res.end('data: [DONE]\n\n');
    }
    json(res, { id: 'd', object: 'text_completion', model: body.model, choices: [{ index: 0, text: `from ${ip}`, finish_reason: 'length' }], usage });
  }

  /** Bodies seen since `from`, split by the pods' roles. */
  since(from: number): { prefill: Seen[]; decode: Seen[] } {
    const recent = this.seen.slice(from);
    return { prefill: recent.filter((s) => PREFILL_IPS.has(s.ip)), decode: recent.filter((s) => !PREFILL_IPS.has(s.ip)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  }
}

function json(res: import('node:http').ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The seed's ModelServer renamed, with another connector or engine. */
function variant(name: string, extra: string): string {
  return pdExample('modelserver.yaml').replace('name: deepseek-r1-1-5b-pd-disaggregation', `name: ${name}`).replace('  trafficPolicy:', `${extra}  trafficPolicy:`)
    + `---\n${pdExample('modelroute.yaml').replace(/deepseek-r1-1-5b-pd-disaggregation/g, name)}`;
}

/** Pods of the example, moved into this file's subnet and left to the recorders. */
function pods(): string {
  return pdExample('pods.yaml').replace(/podIP: 127\.0\.0\.(\d+)/g, `podIP: 127.${SUBNET}.0.$1`).replace(/  labels:\n/g, '  annotations:\n    sim.sluice.dev/serve: "false"\n  labels:\n');
}

const recorders = new Recorders();
let sluice: LocalSluice;

beforeAll(async () => {
  await recorders.start();
  sluice = await startLocalSluice({
    subnet: SUBNET,
    dataplaneArgs: ['--decision-header', 'true', '--scrape-interval-ms', '60000'],
    files: {
      'modelserver.yaml': pdExample('modelserver.yaml'),
      'modelroute.yaml': pdExample('modelroute.yaml'),
      'pods.yaml': pods(),
      'nixl.yaml': variant('pd-nixl', '  kvConnector:\n    type: nixl\n'),
      'sglang.yaml': variant('pd-sglang', '').replace('inferenceEngine: "vLLM"', 'inferenceEngine: "SGLang"'),
      // The simulator needs one pod of its own; the PD pods are the recorders'.
      'filler.yaml': `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: filler, namespace: default}
spec:
  workloadSelector: {matchLabels: {app: filler}}
  model: filler
  inferenceEngine: vLLM
---
${readyPodYaml('filler-0', { app: 'filler' }, `127.${SUBNET}.0.90`)}`,
    },
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await recorders.close();
  sluice?.cleanup();
});

const client = () => new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });

describe('PD disaggregation', () => {
  it('serves seed scenario 5 as written: http connector, original body to a prefill then a decode pod of one group', async () => {
    const from = recorders.seen.length;
    const res = await client().completions.create({ model: 'deepseek-r1-1-5b-pd-disaggregation', prompt: 'San Francisco is a', max_tokens: 3 });
    expect(res.choices[0]!.text).toMatch(/^from 127\.34\.0\.4[24]$/);
    const { prefill, decode } = recorders.since(from);
    expect(prefill).toHaveLength(1);
    expect(decode).toHaveLength(1);
    const original = { model: SERVER_MODEL, prompt: 'San Francisco is a', max_tokens: 3 };
    expect(prefill[0]!.body).toEqual(original);
    expect(decode[0]!.body).toEqual(original);
    expect(groupOfIp.get(prefill[0]!.ip)).toBe(groupOfIp.get(decode[0]!.ip));
    expect(prefill[0]!.at).toBeLessThan(decode[0]!.at);
  });

  it('nixl: prefill with max_tokens 1, no stream and kv_transfer_params; decode carries the prefill\'s params and streams', async () => {
    const from = recorders.seen.length;
    const stream = await client().chat.completions.create({ model: 'pd-nixl', messages: [{ role: 'user', content: 'hello' }], max_tokens: 32, stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('abc');
    const { prefill, decode } = recorders.since(from);
    const original = { model: SERVER_MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 32, stream: true, stream_options: { include_usage: true } };
    expect(prefill[0]!.body).toEqual({
      model: SERVER_MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 1, stream: false,
      kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null },
    });
    expect(decode[0]!.body).toEqual({
      ...original,
      kv_transfer_params: { do_remote_prefill: true, do_remote_decode: false, remote_engine_id: `engine-${prefill[0]!.ip}`, remote_block_ids: [1, 2, 3], remote_host: prefill[0]!.ip, remote_port: 8000, tp_size: 1 },
    });
    expect(groupOfIp.get(prefill[0]!.ip)).toBe(groupOfIp.get(decode[0]!.ip));
  });

  it('SGLang: bootstrap host, port and room in both requests, sent together', async () => {
    const from = recorders.seen.length;
    const res = await client().completions.create({ model: 'pd-sglang', prompt: 'bootstrap me', max_tokens: 3 });
    expect(res.choices[0]!.text).toMatch(/^from /);
    const { prefill, decode } = recorders.since(from);
    const p = prefill[0]!.body;
    const d = decode[0]!.body;
    expect(p).toEqual({ model: SERVER_MODEL, prompt: 'bootstrap me', max_tokens: 3, bootstrap_host: prefill[0]!.ip, bootstrap_port: 8998, bootstrap_room: d.bootstrap_room });
    expect(d).toEqual(p);
    expect(typeof p.bootstrap_room).toBe('number');
    expect(recorders.together.has(p.bootstrap_room)).toBe(true);
    expect(groupOfIp.get(prefill[0]!.ip)).toBe(groupOfIp.get(decode[0]!.ip));
  });

  it('fails over to the next pair when a prefill pod fails, and never pairs across groups', async () => {
    // The first pair for this prompt, then make its prefill pod fail.
    // Several 64-character blocks, so the prefix index brings the same prompt back to the same pair.
    const prompt = 'fail over, please: this prompt is long enough to fill a few prefix-cache blocks. '.repeat(4);
    const first = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'pd-nixl', prompt, max_tokens: 3 }) });
    await first.body.dump();
    const failed = /prefill=default\/([^;]+)/.exec(String(first.headers['x-sluice-decision']))![1]!;
    const failedIp = Object.values(GROUPS).find((g) => failed.includes(groupOfIp.get(g.prefill)!))!.prefill;
    recorders.failing.add(failedIp);
    try {
      const from = recorders.seen.length;
      for (let i = 0; i < 3; i++) {
        const res = await client().completions.create({ model: 'pd-nixl', prompt, max_tokens: 3 });
        expect(res.choices[0]!.text).toMatch(/^from /);
      }
      const { prefill, decode } = recorders.since(from);
      expect(prefill.some((s) => s.ip === failedIp)).toBe(true);
      expect(decode.length).toBe(3);
      for (const d of decode) {
        const kv = d.body.kv_transfer_params as { remote_host: string };
        expect(kv.remote_host).not.toBe(failedIp);
        expect(groupOfIp.get(kv.remote_host)).toBe(groupOfIp.get(d.ip));
      }
    } finally {
      recorders.failing.delete(failedIp);
    }
  });
});
