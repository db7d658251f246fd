import { lintExposition, parseSamples, type PromSample } from './prom-lint';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { get, postJson } from './test-helpers';

const MODEL = 'sim/metrics-7b';

const value = (samples: PromSample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('/metrics', () => {
  let sim: EngineSimHandle;

  beforeAll(async () => {
    sim = await startEngineSim({
      pods: [
        { name: 'm-vllm', ip: '127.0.0.6', port: 0, model: MODEL, engine: 'vllm', loras: ['ad-1'], role: 'decode', group: 'g-m' },
        { name: 'm-sglang', ip: '127.0.0.6', port: 0, model: MODEL, engine: 'sglang' },
        { name: 'm-tgi', ip: '127.0.0.6', port: 0, model: MODEL, engine: 'tgi' },
      ],
      timeScale: 50,
    });
    const prompt = Array.from({ length: 100 }, (_, i) => i);
    for (const pod of sim.pods) {
      // Three identical requests: 3 x 5 generated tokens, and two prefix-cache hits of 96 tokens.
      for (let i = 0; i < 3; i++) {
        const r = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 5, ignore_eos: true });
        expect(r.status).toBe(200);
      }
    }
  });
  afterAll(() => sim.close());

  it.each([0, 1, 2])('pod %d serves valid exposition with the Prometheus content type', async (i) => {
    const r = await get(`${sim.pods[i].url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(lintExposition(r.text)).toEqual([]);
  });

  it('vLLM flavour counts tokens, successes, cache hits and latencies', async () => {
    const s = parseSamples((await get(`${sim.pods[0].url}/metrics`)).text);
    const l = { model_name: MODEL, engine: '0' };
    expect(value(s, 'vllm:generation_tokens_total', l)).toBe(15);
    expect(value(s, 'vllm:prompt_tokens_total', l)).toBe(300);
    expect(value(s, 'vllm:request_success_total', { ...l, finished_reason: 'length' })).toBe(3);
    expect(value(s, 'vllm:prefix_cache_queries_total', l)).toBe(300);
    expect(value(s, 'vllm:prefix_cache_hits_total', l)).toBe(192);
    expect(value(s, 'vllm:time_to_first_token_seconds_count', l)).toBe(3);
    expect(value(s, 'vllm:inter_token_latency_seconds_count', l)).toBe(12);
    expect(value(s, 'vllm:e2e_request_latency_seconds_count', l)).toBe(3);
    expect(value(s, 'vllm:time_to_first_token_seconds_bucket', { ...l, le: '+Inf' })).toBe(3);
    expect(value(s, 'vllm:num_requests_running', l)).toBe(0);
    expect(value(s, 'vllm:kv_cache_usage_perc', l)).toBe(0);
    expect(value(s, 'vllm:cache_config_info', { block_size: '16', num_gpu_blocks: '16384' })).toBe(1);
    expect(value(s, 'sim_pod_info', { pod: 'm-vllm', role: 'decode', group: 'g-m' })).toBe(1);
    // A decode pod serving plain requests prefills them itself (its group's LMCache store is empty).
    expect(value(s, 'sim_local_prefills_total')).toBe(3);
    expect(value(s, 'sim_kv_transfers_total', { direction: 'received', protocol: 'lmcache' })).toBe(0);
    const loraInfo = s.filter((x) => x.name === 'vllm:lora_requests_info');
    expect(loraInfo.length).toBeGreaterThan(0);
    expect(loraInfo[0].labels.max_lora).toBe('4');
    // Simulated seconds: a 100-token idle prefill is 10 + 100 * 0.15 = 25 ms.
    const ttftSum = value(s, 'vllm:time_to_first_token_seconds_sum', l) ?? 0;
    expect(ttftSum).toBeGreaterThan(0.025);
    expect(ttftSum).toBeLessThan(0.2);
  });

  it('SGLang flavour uses sglang: names', async () => {
    const s = parseSamples((await get(`${sim.pods[1].url}/metrics`)).text);
    const l = { model_name: MODEL };
    expect(value(s, 'sglang:num_running_reqs', l)).toBe(0);
    expect(value(s, 'sglang:num_queue_reqs', l)).toBe(0);
    expect(value(s, 'sglang:generation_tokens_total', l)).toBe(15);
    expect(value(s, 'sglang:cache_hit_rate', l)).toBeCloseTo(192 / 300);
    expect(value(s, 'sglang:time_to_first_token_seconds_count', l)).toBe(3);
    expect(value(s, 'sglang:inter_token_latency_seconds_count', l)).toBe(12);
    expect(s.some((x) => x.name.startsWith('vllm:'))).toBe(false);
  });

  it('TGI flavour uses tgi_ names', async () => {
    const s = parseSamples((await get(`${sim.pods[2].url}/metrics`)).text);
    expect(value(s, 'tgi_queue_size')).toBe(0);
    expect(value(s, 'tgi_batch_current_size')).toBe(0);
    expect(value(s, 'tgi_request_success')).toBe(3);
    expect(value(s, 'tgi_request_duration_count')).toBe(3);
    expect(value(s, 'tgi_request_generated_tokens_sum')).toBe(15);
  });
});
