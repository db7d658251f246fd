/**
 * vLLM's NIXL prefill/decode protocol end to end over HTTP, the way a router drives it: a prefill
 * request (max_tokens 1, stream false, kv_transfer_params.do_remote_decode) to a prefill pod, then
 * the original request plus the returned kv_transfer_params to a decode pod of the same group.
 */
import { lintExposition, parseSamples } from './prom-lint';
import { startEngineSim, type EngineSimHandle, type SimPod } from './simulator';
import { get, postJson, sseData, waitFor, type HttpResult } from './test-helpers';

const MODEL = 'sim/pd-7b';
const PROMPT = Array.from({ length: 600 }, (_, i) => 7000 + i);

/** What a router sends to the prefill pod. */
const prefillBody = (body: Record<string, unknown>): Record<string, unknown> => ({
  ...body, max_tokens: 1, stream: false,
  kv_transfer_params: {
    do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null,
  },
});

const metric = async (pod: SimPod, name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
  parseSamples((await get(`${pod.url}/metrics`)).text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

const state = async (pod: SimPod): Promise<any> => (await get(`${pod.url}/sim/state`)).json;

describe('NIXL prefill -> decode', () => {
  let sim: EngineSimHandle;
  let prefill: SimPod;
  let decode: SimPod;
  let otherGroup: SimPod;
  let sglang: SimPod;

  beforeAll(async () => {
    sim = await startEngineSim({
      pods: [
        { name: 'p-g1', ip: '127.0.61.1', port: 0, model: MODEL, role: 'prefill', group: 'g1', loras: ['ad-1'] },
        { name: 'd-g1', ip: '127.0.61.2', port: 0, model: MODEL, role: 'decode', group: 'g1', loras: ['ad-1'] },
        { name: 'd-g2', ip: '127.0.61.3', port: 0, model: MODEL, role: 'decode', group: 'g2' },
        { name: 's-g1', ip: '127.0.61.4', port: 0, model: MODEL, role: 'decode', group: 'g1', engine: 'sglang' },
      ],
      timeScale: 50,
    });
    [prefill, decode, otherGroup, sglang] = sim.pods;
  });
  afterAll(() => sim.close());

  /** Run the prefill half and return its kv_transfer_params. */
  async function prefillFor(body: Record<string, unknown>, path = '/v1/completions'): Promise<Record<string, any>> {
    const r = await postJson(`${prefill.url}${path}`, prefillBody(body));
    expect(r.status).toBe(200);
    return r.json.kv_transfer_params;
  }

  it('prefill answers one token and vLLM-shaped kv_transfer_params, keeping the KV until it is pulled', async () => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 20, ignore_eos: true };
    const r = await postJson(`${prefill.url}/v1/completions`, prefillBody(body));
    expect(r.status).toBe(200);
    expect(r.json.usage).toEqual({ prompt_tokens: 600, completion_tokens: 1, total_tokens: 601 });
    expect(r.json.choices[0].finish_reason).toBe('length');
    const ktp = r.json.kv_transfer_params;
    expect(ktp).toEqual({
      do_remote_prefill: true, do_remote_decode: false, remote_engine_id: prefill.kvEngineId,
      remote_block_ids: expect.any(Array), remote_host: '127.0.61.1', remote_port: prefill.port, tp_size: 1,
    });
    expect(ktp.remote_engine_id).toMatch(/^p-g1-/);
    expect(ktp.remote_block_ids).toHaveLength(38); // ceil(600 / 16)
    expect((await state(prefill)).kv.usedBlocks).toBe(38);

    const d = await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: ktp });
    expect(d.status).toBe(200);
    expect(d.json.usage).toEqual({ prompt_tokens: 600, completion_tokens: 20, total_tokens: 620 });
    expect(d.json.choices[0].text.startsWith(`This is simulated message from ${MODEL}!`)).toBe(true);
    expect(d.json.sim).toMatchObject({ pod: 'd-g1', kv_protocol: 'nixl', kv_transfer_tokens: 600, prefix_cache_hit_tokens: 0 });
    // TTFT = transfer (600 x 0.002 ms) + one decode step (12 + 0.08); a local prefill would take 10 + 600 x 0.15 = 100 ms.
    expect(d.json.sim.kv_transfer_ms).toBeCloseTo(1.2, 3);
    expect(d.json.sim.ttft_ms).toBeCloseTo(1.2 + 12.08, 3);
    // The decode pod pulled the KV: the prefill pod freed it.
    expect((await state(prefill)).kv.usedBlocks).toBe(0);
    expect(await metric(prefill, 'sim_kv_transfers_total', { direction: 'sent', protocol: 'nixl' })).toBe(1);
    expect(await metric(decode, 'sim_kv_transfers_total', { direction: 'received', protocol: 'nixl' })).toBe(1);
  });

  it('streams a chat decode; only the blocks the decode pod lacks move', async () => {
    const messages = [{ role: 'user', content: 'Summarise the history of the router in one paragraph. '.repeat(30) }];
    const body = { model: MODEL, messages, max_tokens: 6, ignore_eos: true };
    for (const expectMoved of ['all', 'tail'] as const) {
      const ktp = await prefillFor(body, '/v1/chat/completions');
      const r = await postJson(`${decode.url}/v1/chat/completions`, { ...body, stream: true, stream_options: { include_usage: true }, kv_transfer_params: ktp });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/event-stream');
      const events = sseData(r.text);
      expect(events.at(-1)).toBe('[DONE]');
      const chunks = events.slice(0, -1) as Array<Record<string, any>>;
      const tokens = chunks.filter((c) => c.choices.length > 0 && c.choices[0].delta.content);
      expect(tokens).toHaveLength(6);
      const last = tokens.at(-1)!;
      expect(last.choices[0].finish_reason).toBe('length');
      const promptTokens = chunks.at(-1)!.usage.prompt_tokens as number;
      // First time everything moves; then the decode pod has all full blocks but the last cached.
      const moved = expectMoved === 'all' ? promptTokens : promptTokens - Math.floor((promptTokens - 1) / 16) * 16;
      expect(last.sim).toMatchObject({ kv_protocol: 'nixl', kv_transfer_tokens: moved });
    }
  });

  it.each([
    ['made-up params', (k: Record<string, any>) => ({ ...k, remote_block_ids: [9990, 9991] }), 'unknown_transfer', /kv_transfer_params name engine p-g1-\S+ blocks \[9990,9991\] which no prefill produced/],
    ['an unknown engine id', (k: Record<string, any>) => ({ ...k, remote_engine_id: 'nobody-1' }), 'unknown_transfer', /engine nobody-1 .*which no prefill produced \(no running pod has that engine id\)/],
    ['a wrong remote_host', (k: Record<string, any>) => ({ ...k, remote_host: '127.0.61.9' }), 'wrong_host', /remote_host is 127\.0\.61\.9 but the prefill pod p-g1 is at 127\.0\.61\.1/],
    ['a wrong remote_port', (k: Record<string, any>) => ({ ...k, remote_port: 1 }), 'wrong_port', /remote_port is 1/],
    ['missing block ids', (k: Record<string, any>) => ({ ...k, remote_block_ids: undefined }), 'malformed', /remote_block_ids must be a non-empty array/],
  ])('decode with %s is a 400', async (_name, mangle, reason, message) => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 4 };
    const ktp = await prefillFor(body);
    const before = (await metric(decode, 'sim_kv_transfer_rejections_total', { reason })) ?? 0;
    const r = await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: mangle(ktp) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', code: 400, param: 'kv_transfer_params' });
    expect(r.json.error.message).toMatch(message);
    expect(await metric(decode, 'sim_kv_transfer_rejections_total', { reason })).toBe(before + 1);
    // The real params still work: a refused decode does not use the transfer up.
    expect((await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: ktp })).status).toBe(200);
  });

  it('refuses a decode pod of another group, and then still serves the right one', async () => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 4 };
    const ktp = await prefillFor(body);
    const r = await postJson(`${otherGroup.url}/v1/completions`, { ...body, kv_transfer_params: ktp });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('prefill pod p-g1 is in group g1, this decode pod d-g2 is in group g2: KV cannot move between groups');
    expect(await metric(otherGroup, 'sim_kv_transfer_rejections_total', { reason: 'cross_group' })).toBe(1);
    expect((await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: ktp })).status).toBe(200);
  });

  it('refuses params used a second time', async () => {
    const body = { model: MODEL, prompt: PROMPT, max_tokens: 2 };
    const ktp = await prefillFor(body);
    expect((await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: ktp })).status).toBe(200);
    const again = await postJson(`${decode.url}/v1/completions`, { ...body, kv_transfer_params: ktp });
    expect(again.status).toBe(400);
    expect(again.json.error.message).toMatch(/were already pulled by decode pod d-g1: each prefill's KV can be used once/);
  });

  it('refuses a decode whose prompt or model is not the prefilled one', async () => {
    const ktp = await prefillFor({ model: MODEL, prompt: PROMPT });
    const other = await postJson(`${decode.url}/v1/completions`, { model: MODEL, prompt: PROMPT.slice(1), kv_transfer_params: ktp });
    expect(other.status).toBe(400);
    expect(other.json.error.message).toMatch(/^the prompt differs from the one prefilled: pod p-g1 prefilled 600 tokens/);
    expect(other.json.error.param).toBe('prompt');
    const adapter = await postJson(`${decode.url}/v1/completions`, { model: 'ad-1', prompt: PROMPT, kv_transfer_params: ktp });
    expect(adapter.status).toBe(400);
    expect(adapter.json.error.message).toBe(`the prefill on pod p-g1 was for model ${MODEL}, this request asks for ad-1`);
  });

  it.each([
    ['stream: true', { stream: true }, 'stream', 'prefill_stream'],
    ['stream_options', { stream_options: { include_usage: true } }, 'stream_options', 'prefill_stream'],
    ['max_tokens 5', { max_tokens: 5 }, 'max_tokens', 'prefill_max_tokens'],
    ['no max_tokens', { max_tokens: undefined }, 'max_tokens', 'prefill_max_tokens'],
    ['max_completion_tokens 5', { max_completion_tokens: 5 }, 'max_completion_tokens', 'prefill_max_tokens'],
  ])('refuses a prefill request with %s, naming the field', async (_name, change, param, reason) => {
    const r = await postJson(`${prefill.url}/v1/completions`, { ...prefillBody({ model: MODEL, prompt: 'hello' }), ...change });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', param });
    expect(r.json.error.message).toContain(`"${param}"`);
    expect(await metric(prefill, 'sim_kv_transfer_rejections_total', { reason })).toBeGreaterThan(0);
  });

  it.each([
    ['a prefill request to a decode pod', () => decode, () => prefillBody({ model: MODEL, prompt: 'x' }), /has role decode/, 'wrong_role'],
    ['a decode request to a prefill pod', () => prefill, () => ({ model: MODEL, prompt: 'x', kv_transfer_params: { do_remote_prefill: true } }), /has role prefill/, 'wrong_role'],
    ['kv_transfer_params to an SGLang pod', () => sglang, () => ({ model: MODEL, prompt: 'x', kv_transfer_params: { do_remote_prefill: true } }), /runs sglang/, 'wrong_protocol'],
    ['bootstrap fields to a vLLM pod', () => decode, () => ({ model: MODEL, prompt: 'x', bootstrap_host: '127.0.61.1', bootstrap_port: 8998, bootstrap_room: 1 }), /runs vllm \(vLLM pods take kv_transfer_params\)/, 'wrong_protocol'],
    ['both flags', () => decode, () => ({ model: MODEL, prompt: 'x', kv_transfer_params: { do_remote_prefill: true, do_remote_decode: true } }), /cannot set both/, 'malformed'],
  ])('refuses %s', async (_name, pod, body, message, reason) => {
    const r: HttpResult = await postJson(`${pod().url}/v1/completions`, body());
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(message);
    expect(await metric(pod(), 'sim_kv_transfer_rejections_total', { reason })).toBeGreaterThan(0);
  });

  it('serves a plain request on a decode pod by prefilling locally, and counts it', async () => {
    const before = (await metric(otherGroup, 'sim_local_prefills_total')) ?? 0;
    const r = await postJson(`${otherGroup.url}/v1/completions`, { model: MODEL, prompt: PROMPT.map((t) => t + 1), max_tokens: 3 });
    expect(r.status).toBe(200);
    expect(r.json.sim).toMatchObject({ kv_protocol: null, kv_transfer_tokens: 0 });
    expect(r.json.sim.ttft_ms).toBeCloseTo(10 + 600 * 0.15, 3);
    expect(await metric(otherGroup, 'sim_local_prefills_total')).toBe(before + 1);
  });

  it('every pod still serves valid exposition with the PD families', async () => {
    for (const pod of sim.pods) {
      const text = (await get(`${pod.url}/metrics`)).text;
      expect(lintExposition(text)).toEqual([]);
      const names = new Set(parseSamples(text).map((s) => s.name));
      for (const n of ['sim_kv_transfers_total', 'sim_kv_transfer_rejections_total', 'sim_local_prefills_total']) expect(names.has(n)).toBe(true);
    }
    const info = parseSamples((await get(`${decode.url}/metrics`)).text).find((s) => s.name === 'sim_pod_info');
    expect(info?.labels).toMatchObject({ pod: 'd-g1', role: 'decode', group: 'g1' });
  });
});

describe('NIXL hold timeout', () => {
  let sim: EngineSimHandle;
  afterAll(() => sim.close());

  it('an unpulled prefill frees its KV after 480 simulated seconds; its params then expire', async () => {
    // 480 s at time scale 20,000 is 24 wall ms.
    sim = await startEngineSim({
      pods: [
        { name: 'p', ip: '127.0.61.11', port: 0, model: MODEL, role: 'prefill' },
        { name: 'd', ip: '127.0.61.12', port: 0, model: MODEL, role: 'decode' },
      ],
      timeScale: 20_000,
    });
    const [p, d] = sim.pods;
    const body = { model: MODEL, prompt: PROMPT };
    const r = await postJson(`${p.url}/v1/completions`, prefillBody(body));
    expect(r.status).toBe(200);
    await waitFor(async () => (await state(p)).kv.usedBlocks === 0, 'the prefill pod to release the KV');
    const late = await postJson(`${d.url}/v1/completions`, { ...body, kv_transfer_params: r.json.kv_transfer_params });
    expect(late.status).toBe(400);
    expect(late.json.error.message).toMatch(/expired: pod p released the KV after 480 s unpulled/);
    expect(await metric(d, 'sim_kv_transfer_rejections_total', { reason: 'expired' })).toBe(1);
  });
});
