/**
 * PD disaggregation through the real data plane and the engine simulator, whose prefill and decode
 * pods check every transfer (a decode whose kv_transfer_params did not come from a prefill of its
 * group is refused with 400): seed scenario 5 as written (http/lmcache), nixl with streaming, SGLang
 * bootstrap rooms, and a prefill pod answering 503 failing over to the other group.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { ROOT, stopAll } from './helpers/processes';

const SUBNET = 36;
const pdExample = (name: string) => readFileSync(join(ROOT, 'manifests', 'examples', 'pd-disaggregation', name), 'utf8');

/** Pods (two groups of one prefill and one decode pod), ModelServer and route named `name`, on 127.36.<net>.x. */
function pdSet(name: string, net: string, server: (yaml: string) => string): string {
  const pods = pdExample('pods.yaml').replace(/podIP: 127\.0\.0\.(\d+)/g, `podIP: 127.${SUBNET}.${net}.$1`)
    .replace(/name: deepseek-r1-1-5b-group/g, `name: ${name}-group`).replace(/app: deepseek-r1-1-5b/g, `app: ${name}`);
  const ms = server(pdExample('modelserver.yaml')).replace('name: deepseek-r1-1-5b-pd-disaggregation', `name: ${name}`).replace('app: deepseek-r1-1-5b', `app: ${name}`);
  const route = pdExample('modelroute.yaml').replace(/deepseek-r1-1-5b-pd-disaggregation/g, name);
  return `${pods}\n---\n${ms}---\n${route}`;
}

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: SUBNET,
    timeScale: 20,
    dataplaneArgs: ['--decision-header', 'true'],
    files: {
      // Seed scenario 5 exactly as written, with its pods on this file's addresses.
      'modelserver.yaml': pdExample('modelserver.yaml'),
      'modelroute.yaml': pdExample('modelroute.yaml'),
      'pods.yaml': pdExample('pods.yaml').replace(/podIP: 127\.0\.0\.(\d+)/g, `podIP: 127.${SUBNET}.0.$1`),
      'nixl.yaml': pdSet('pd-nixl', '1', (y) => y.replace('  trafficPolicy:', '  kvConnector:\n    type: nixl\n  trafficPolicy:')),
      'sglang.yaml': pdSet('pd-sglang', '2', (y) => y.replace('inferenceEngine: "vLLM"', 'inferenceEngine: "SGLang"')),
    },
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

const client = () => new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });

/** Sum of the simulator's PD counters over the pods of one subnet row. */
async function pd(net: string): Promise<{ received: Record<string, number>; rejections: number }> {
  const received: Record<string, number> = {};
  let rejections = 0;
  for (const n of [41, 42, 43, 44]) {
    const st = (await (await request(`http://127.${SUBNET}.${net}.${n}:8000/sim/state`)).body.json()) as { pd: { transfers: { received: Record<string, number> }; rejections: Record<string, number> } };
    for (const [k, v] of Object.entries(st.pd.transfers.received)) received[k] = (received[k] ?? 0) + v;
    rejections += Object.values(st.pd.rejections).reduce((a, b) => a + b, 0);
  }
  return { received, rejections };
}

describe('PD disaggregation on the simulator', () => {
  it('serves seed scenario 5 as written, streamed and not, with KV from the group\'s LMCache store', async () => {
    const prompt = 'The seed scenario five prompt, long enough to fill a few KV blocks of sixteen tokens each. '.repeat(4);
    const plain = await client().completions.create({ model: 'deepseek-r1-1-5b-pd-disaggregation', prompt, max_tokens: 8 });
    expect(plain.choices[0]!.text.length).toBeGreaterThan(0);
    expect(plain.usage!.completion_tokens).toBe(8);
    let text = '';
    const stream = await client().completions.create({ model: 'deepseek-r1-1-5b-pd-disaggregation', prompt: `${prompt} again`, max_tokens: 8, stream: true });
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(0);
    const counters = await pd('0');
    expect(counters.rejections).toBe(0);
    expect(counters.received.lmcache).toBeGreaterThanOrEqual(1);
  });

  it('nixl: the decode pod accepts the transfer the router carried, and streams', async () => {
    const before = await pd('1');
    const stream = await client().chat.completions.create({ model: 'pd-nixl', messages: [{ role: 'user', content: 'stream me a story about KV caches' }], max_tokens: 16, stream: true, stream_options: { include_usage: true } });
    let chunks = 0;
    let usage: { completion_tokens: number } | undefined;
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) chunks++;
      if (c.usage) usage = c.usage;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(usage!.completion_tokens).toBe(16);
    const after = await pd('1');
    expect(after.rejections).toBe(0);
    expect(after.received.nixl! - (before.received.nixl ?? 0)).toBe(1);
  });

  it('SGLang: prefill and decode meet in the bootstrap room', async () => {
    const res = await client().completions.create({ model: 'pd-sglang', prompt: 'room for two', max_tokens: 6 });
    expect(res.usage!.completion_tokens).toBe(6);
    const counters = await pd('2');
    expect(counters.rejections).toBe(0);
    expect(counters.received.sglang).toBe(1);
  });

  it('a prefill pod answering 503 fails over to the pair of the other group', async () => {
    const prompt = 'fail over between groups';
    const first = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'pd-nixl', prompt, max_tokens: 4 }) });
    await first.body.dump();
    const decision = String(first.headers['x-sluice-decision']);
    const prefill = /prefill=default\/(\S+?);/.exec(`${decision};`)![1]!;
    const prefillIp = `127.${SUBNET}.1.${prefill.includes('group-0') ? 41 : 43}`;
    await request(`http://${prefillIp}:8000/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 503, count: 5 }) }).then((r) => r.body.dump());
    const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'pd-nixl', prompt, max_tokens: 4 }) });
    expect(res.statusCode).toBe(200);
    const d = String(res.headers['x-sluice-decision']);
    await res.body.dump();
    const other = prefill.includes('group-0') ? 'group-1' : 'group-0';
    expect(d).toMatch(new RegExp(`endpoint=default/pd-nixl-${other}-decode-0;.*prefill=default/pd-nixl-${other}-prefill-0`));
    await request(`http://${prefillIp}:8000/sim/faults`, { method: 'DELETE' }).then((r) => r.body.dump());
    expect((await pd('1')).rejections).toBe(0);
  });
});
