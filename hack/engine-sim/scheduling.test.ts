import { DEFAULT_PROFILE } from './profile';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { get, postJson, waitFor, type HttpResult } from './test-helpers';
import { parseSamples } from './prom-lint';

const MODEL = 'sim/base-7b';

/** Start a one-pod simulator on 127.0.0.4 with profile overrides. */
async function onePod(profile: Partial<typeof DEFAULT_PROFILE>, loras: string[] = [], timeScale = 10): Promise<EngineSimHandle> {
  return startEngineSim({ pods: [{ name: 'sched', ip: '127.0.0.4', port: 0, model: MODEL, loras }], timeScale, profile });
}

const complete = (base: string, body: Record<string, unknown>): Promise<HttpResult> =>
  postJson(`${base}/v1/completions`, { model: MODEL, ignore_eos: true, ...body });

describe('continuous batching', () => {
  let sim: EngineSimHandle;
  afterEach(() => sim?.close());

  it('runs at most maxNumSeqs sequences; the rest wait FIFO', async () => {
    sim = await onePod({ maxNumSeqs: 2 });
    const base = sim.pods[0].url;
    const reqs = [0, 1, 2, 3].map((i) => complete(base, { prompt: `request number ${i}`, max_tokens: 60 }));
    const seen = await waitFor(async () => {
      const s = (await get(`${base}/sim/state`)).json;
      return s.running === 2 && s.waiting === 2 ? s : false;
    }, '2 running and 2 waiting');
    expect(seen.maxNumSeqs).toBe(2);
    const metrics = parseSamples((await get(`${base}/metrics`)).text);
    expect(metrics.find((m) => m.name === 'vllm:num_requests_running')?.value).toBeLessThanOrEqual(2);

    const res = await Promise.all(reqs);
    const queued = res.map((r) => r.json.sim.queue_ms).sort((a: number, b: number) => a - b);
    // Two started at once; two waited for a 60-token generation (59 decode steps of >= 12 ms,
    // minus however late they arrived: half of it is a safe lower bound).
    expect(queued[1]).toBeLessThan(50);
    expect(queued[2]).toBeGreaterThan(30 * DEFAULT_PROFILE.decodeBaseMs);
    expect(res.every((r) => r.json.usage.completion_tokens === 60)).toBe(true);
  });

  it('inter-token latency grows with batch size', async () => {
    sim = await onePod({ decodeBaseMs: 10, decodeMsPerSeq: 2 });
    const base = sim.pods[0].url;
    const itl = (r: HttpResult): number => (r.json.sim.e2e_ms - r.json.sim.ttft_ms) / (r.json.usage.completion_tokens - 1);
    const alone = await complete(base, { prompt: 'alone', max_tokens: 30 });
    // decodeBaseMs + decodeMsPerSeq * 1
    expect(itl(alone)).toBeCloseTo(12, 1);
    const batch = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => complete(base, { prompt: `b${i}`, max_tokens: 30 })));
    // With 8 running, a step costs 10 + 2 * 8 = 26 ms (less while the batch fills up).
    for (const r of batch) expect(itl(r)).toBeGreaterThan(18);
  });

  it('preempts when the KV cache runs out and still completes every request', async () => {
    // 8 blocks x 16 tokens = 128 tokens: two sequences growing to 100 tokens cannot both fit.
    sim = await onePod({ numGpuBlocks: 8, blockSize: 16 });
    const base = sim.pods[0].url;
    const prompt = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const res = await Promise.all([
      complete(base, { prompt, max_tokens: 60 }),
      complete(base, { prompt: prompt.map((t) => t + 500), max_tokens: 60 }),
    ]);
    expect(res.map((r) => r.json.usage.completion_tokens)).toEqual([60, 60]);
    const state = (await get(`${base}/sim/state`)).json;
    expect(state.counters.preemptions).toBeGreaterThan(0);
    expect(res.some((r) => r.json.sim.preemptions > 0)).toBe(true);
    expect(state.kv.usedBlocks).toBe(0);
  });

  it('frees the slot and KV blocks when a streaming client disconnects', async () => {
    sim = await onePod({}, [], 1);
    const base = sim.pods[0].url;
    const ac = new AbortController();
    const r = await fetch(`${base}/v1/completions`, {
      method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'long stream', max_tokens: 5000, ignore_eos: true, stream: true }),
    });
    const reader = r.body!.getReader();
    await reader.read(); // first chunk arrived: the request is running
    ac.abort();
    const s = await waitFor(async () => {
      const st = (await get(`${base}/sim/state`)).json;
      return st.running === 0 && st.counters.requestsAborted === 1 ? st : false;
    }, 'the aborted request to leave the engine');
    expect(s.kv.usedBlocks).toBe(0);
  });
});

describe('prefix cache', () => {
  let sim: EngineSimHandle;
  afterEach(() => sim?.close());

  it('a repeated long prompt has a lower TTFT, matching the cost formula', async () => {
    sim = await onePod({});
    const base = sim.pods[0].url;
    const prompt = Array.from({ length: 2000 }, (_, i) => i);
    const first = await complete(base, { prompt, max_tokens: 2 });
    const second = await complete(base, { prompt, max_tokens: 2 });
    const p = DEFAULT_PROFILE;
    // Idle engine: TTFT = prefillOverheadMs + uncached * prefillMsPerToken.
    expect(first.json.sim.prefix_cache_hit_tokens).toBe(0);
    expect(first.json.sim.ttft_ms).toBeCloseTo(p.prefillOverheadMs + 2000 * p.prefillMsPerToken, 1);
    // All full blocks below the last prompt token are reused: floor(1999 / 16) * 16 = 1984.
    expect(second.json.sim.prefix_cache_hit_tokens).toBe(1984);
    expect(second.json.sim.ttft_ms).toBeCloseTo(p.prefillOverheadMs + 16 * p.prefillMsPerToken, 1);
    const state = (await get(`${base}/sim/state`)).json;
    expect(state.counters.prefixCacheHits).toBe(1984);
    expect(state.counters.prefixCacheQueries).toBe(4000);
  });

  it('POST /reset_prefix_cache drops cached blocks', async () => {
    sim = await onePod({});
    const base = sim.pods[0].url;
    const prompt = Array.from({ length: 64 }, (_, i) => i);
    await complete(base, { prompt, max_tokens: 1 });
    expect((await postJson(`${base}/reset_prefix_cache`, {})).status).toBe(200);
    const again = await complete(base, { prompt, max_tokens: 1 });
    expect(again.json.sim.prefix_cache_hit_tokens).toBe(0);
  });
});

describe('LoRA adapters', () => {
  let sim: EngineSimHandle;
  afterEach(() => sim?.close());

  it('charges loraLoadMs for a non-resident adapter and evicts the LRU one', async () => {
    sim = await onePod({ maxLoras: 4, loraLoadMs: 100 }, ['a', 'b', 'c', 'd', 'e']);
    const base = sim.pods[0].url;
    const chat = (model: string): Promise<HttpResult> =>
      postJson(`${base}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    const resident = async (): Promise<string[]> => (await get(`${base}/sim/state`)).json.loras.resident;
    expect(await resident()).toEqual(['a', 'b', 'c', 'd']);

    const hit = await chat('a');
    expect(hit.json.sim.lora_load_ms).toBe(0);
    const miss = await chat('e');
    expect(miss.json.sim.lora_load_ms).toBe(100);
    expect(miss.json.sim.ttft_ms - hit.json.sim.ttft_ms).toBeCloseTo(100, 1);
    // 'a' was touched, so 'b' was the least recently used.
    expect(await resident()).toEqual(['c', 'd', 'a', 'e']);
    expect((await chat('b')).json.sim.lora_load_ms).toBe(100);
    expect(await resident()).toEqual(['d', 'a', 'e', 'b']);
  });

  it('load/unload_lora_adapter change what /v1/models lists, with vLLM errors', async () => {
    sim = await onePod({ loraLoadMs: 50 });
    const base = sim.pods[0].url;
    const ids = async (): Promise<string[]> => (await get(`${base}/v1/models`)).json.data.map((d: { id: string }) => d.id);
    const load = await postJson(`${base}/v1/load_lora_adapter`, { lora_name: 'f', lora_path: '/adapters/f' });
    expect(load.status).toBe(200);
    expect(load.text).toBe("Success: LoRA adapter 'f' added successfully.");
    expect(await ids()).toEqual([MODEL, 'f']);
    expect((await get(`${base}/v1/models`)).json.data[1]).toMatchObject({ root: '/adapters/f', parent: MODEL });
    expect((await get(`${base}/sim/state`)).json.loras.resident).toEqual(['f']);

    const again = await postJson(`${base}/v1/load_lora_adapter`, { lora_name: 'f', lora_path: '/adapters/f' });
    expect(again.status).toBe(400);
    expect(again.json.error.type).toBe('InvalidUserInput');
    expect((await postJson(`${base}/v1/load_lora_adapter`, { lora_name: 'g' })).status).toBe(400);

    const served = await postJson(`${base}/v1/completions`, { model: 'f', prompt: 'hi', max_tokens: 1 });
    expect(served.headers.get('x-sim-model')).toBe('f');

    expect((await postJson(`${base}/v1/unload_lora_adapter`, { lora_name: 'f' })).text).toBe(
      "Success: LoRA adapter 'f' removed successfully.",
    );
    expect(await ids()).toEqual([MODEL]);
    expect((await postJson(`${base}/v1/unload_lora_adapter`, { lora_name: 'f' })).status).toBe(404);
    expect((await postJson(`${base}/v1/completions`, { model: 'f', prompt: 'hi' })).status).toBe(404);
  });

  it('a request waits while every slot is pinned by running adapters', async () => {
    sim = await onePod({ maxLoras: 1, loraLoadMs: 100 }, ['x', 'y']);
    const base = sim.pods[0].url;
    const long = complete(base, { model: 'x', prompt: 'long', max_tokens: 80 });
    await waitFor(async () => (await get(`${base}/sim/state`)).json.running === 1, 'x running');
    const blocked = complete(base, { model: 'y', prompt: 'short', max_tokens: 1 });
    const st = await waitFor(async () => {
      const s = (await get(`${base}/sim/state`)).json;
      return s.waiting === 1 ? s : false;
    }, 'y waiting');
    expect(st.loras.running).toEqual(['x']);
    expect(st.loras.waiting).toEqual(['y']);
    const info = parseSamples((await get(`${base}/metrics`)).text).filter((m) => m.name === 'vllm:lora_requests_info');
    expect(info.some((m) => m.labels.running_lora_adapters === 'x' && m.labels.waiting_lora_adapters === 'y')).toBe(true);
    const [x, y] = await Promise.all([long, blocked]);
    expect(y.json.sim.queue_ms).toBeGreaterThan(x.json.sim.e2e_ms / 2);
    expect(y.json.sim.lora_load_ms).toBe(100);
  });
});
