import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { advanceMean, LATENCY_HOLD_MS, type EngineAdapter, type HistogramState, type MeanState } from './engine-adapter';
import { parsePrometheusText } from './prometheus-text';
import { SglangAdapter } from './sglang-adapter';
import { TgiAdapter } from './tgi-adapter';
import { vllmLoraState, VllmAdapter } from './vllm-adapter';

const fixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

function read(adapter: EngineAdapter, text: string, previous: HistogramState | null = null, now = 1_000_000) {
  return adapter.read(parsePrometheusText(text, { only: adapter.sampleNames }).samples, previous, now);
}

/** A minimal body of one engine with one TTFT/TPOT histogram pair at the given totals. */
function vllmBody(ttftSum: number, ttftCount: number, itlSum = 0, itlCount = 0): string {
  return [
    'vllm:num_requests_running{engine="0",model_name="m"} 1.0',
    'vllm:num_requests_waiting{engine="0",model_name="m"} 0.0',
    `vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} ${ttftSum}`,
    `vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} ${ttftCount}`,
    `vllm:inter_token_latency_seconds_sum{engine="0",model_name="m"} ${itlSum}`,
    `vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} ${itlCount}`,
  ].join('\n');
}

describe('adapters on realistic fixtures', () => {
  const cases: Array<[string, EngineAdapter, string, Record<string, unknown>]> = [
    [
      'vLLM V1 with two DP ranks, both KV names, both TPOT names',
      new VllmAdapter(),
      'vllm-v1.txt',
      // running/waiting summed over ranks; kv = mean of kv_cache_usage_perc (the deprecated twin ignored).
      { running: 12, waiting: 3, kvUsage: 0.25, blockSize: 16, lora: { active: ['sql-lora', 'chat-lora'], waiting: ['tool-lora'], maxLoras: 4 } },
    ],
    ['vLLM V0 (gpu_cache_usage_perc, swapped counts as waiting)', new VllmAdapter(), 'vllm-v0.txt', { running: 3, waiting: 5, kvUsage: 0.42, blockSize: 32, lora: null }],
    ['SGLang', new SglangAdapter(), 'sglang.txt', { running: 11, waiting: 2627, kvUsage: 0.28, blockSize: null, lora: { active: [], waiting: [], maxLoras: 8 } }],
    ['TGI (no KV gauge: 0)', new TgiAdapter(), 'tgi.txt', { running: 24, waiting: 6, kvUsage: 0, blockSize: null, lora: null }],
  ];

  it.each(cases)('%s', (_what, adapter, file, want) => {
    const { metrics, state } = read(adapter, fixture(file));
    expect(metrics).toMatchObject(want);
    // First sight of a histogram is a baseline: no interval, no mean.
    expect(metrics.ttftSeconds).toBeNull();
    expect(metrics.tpotSeconds).toBeNull();
    expect(state.engine).toBe(adapter.engine);
  });

  it.each([
    ['vLLM', new VllmAdapter()],
    ['SGLang', new SglangAdapter()],
    ['TGI', new TgiAdapter()],
  ])('%s: a body without its request gauges leaves running undefined', (_what, adapter) => {
    expect(read(adapter, 'other_metric 1\n').metrics.running).toBeUndefined();
  });

  it('vLLM sums running/waiting over model_name values and averages KV use', () => {
    const body = [
      'vllm:num_requests_running{model_name="a"} 2',
      'vllm:num_requests_running{model_name="b"} 3',
      'vllm:num_requests_waiting{model_name="a"} 1',
      'vllm:num_requests_waiting{model_name="b"} 4',
      'vllm:kv_cache_usage_perc{model_name="a"} 0.2',
      'vllm:kv_cache_usage_perc{model_name="b"} 0.4',
    ].join('\n');
    const { metrics } = read(new VllmAdapter(), body);
    expect(metrics).toMatchObject({ running: 5, waiting: 5 });
    expect(metrics.kvUsage).toBeCloseTo(0.3, 12);
  });

  it('vLLM prefers inter_token_latency_seconds over time_per_output_token_seconds', () => {
    const a = new VllmAdapter();
    const first = read(a, fixture('vllm-v1.txt'));
    expect(first.state.means.tpot!.metric).toBe('vllm:inter_token_latency_seconds');
    expect(first.state.means.ttft).toMatchObject({ sum: 10, count: 100 }); // summed over ranks
  });

  it('SGLang falls back to used/max tokens and to time_per_output_token_seconds', () => {
    const a = new SglangAdapter();
    const body = (tpotSum: number, tpotCount: number) =>
      [
        'sglang:num_running_reqs{name="m"} 2',
        'sglang:num_queue_reqs{name="m"} 0',
        'sglang:num_used_tokens{name="m"} 250',
        'sglang:max_total_num_tokens{name="m"} 1000',
        `sglang:time_per_output_token_seconds_sum{name="m"} ${tpotSum}`,
        `sglang:time_per_output_token_seconds_count{name="m"} ${tpotCount}`,
      ].join('\n');
    const r1 = read(a, body(1, 10), null, 0);
    expect(r1.metrics.kvUsage).toBe(0.25);
    const r2 = read(a, body(3, 30), r1.state, 1000);
    expect(r2.metrics.tpotSeconds).toBeCloseTo(0.1);
  });

  it('TGI TTFT = queue + validation + prefill interval means', () => {
    const a = new TgiAdapter();
    const r1 = read(a, fixture('tgi.txt'), null, 0);
    const next = fixture('tgi.txt')
      .replace('tgi_request_queue_duration_sum 60', 'tgi_request_queue_duration_sum 61') // +1 s over 10 → 0.1
      .replace('tgi_request_queue_duration_count 1200', 'tgi_request_queue_duration_count 1210')
      .replace('tgi_request_validation_duration_sum 1.234', 'tgi_request_validation_duration_sum 1.254') // 0.002
      .replace('tgi_request_validation_duration_count 1234', 'tgi_request_validation_duration_count 1244')
      .replace('tgi_batch_inference_duration_sum{method="prefill"} 40', 'tgi_batch_inference_duration_sum{method="prefill"} 40.5') // 0.25
      .replace('tgi_batch_inference_duration_count{method="prefill"} 400', 'tgi_batch_inference_duration_count{method="prefill"} 402')
      .replace('tgi_batch_inference_duration_sum{method="decode"} 2700', 'tgi_batch_inference_duration_sum{method="decode"} 9999')
      .replace('tgi_request_mean_time_per_token_duration_sum 36', 'tgi_request_mean_time_per_token_duration_sum 36.3') // 0.03
      .replace('tgi_request_mean_time_per_token_duration_count 1200', 'tgi_request_mean_time_per_token_duration_count 1210');
    const r2 = read(a, next, r1.state, 1000);
    expect(r2.metrics.ttftSeconds).toBeCloseTo(0.1 + 0.002 + 0.25, 9);
    expect(r2.metrics.tpotSeconds).toBeCloseTo(0.03, 9);
  });
});

describe('interval means from histogram deltas', () => {
  const a = new VllmAdapter();
  type Step = [label: string, body: string, atMs: number, ttft: number | null, tpot: number | null];
  const steps: Step[] = [
    ['baseline', vllmBody(10, 100, 4, 200), 0, null, null],
    ['sum 10→12.5, count 100→105', vllmBody(12.5, 105, 4.4, 210), 1000, 0.5, 0.04],
    ['no new observations: held', vllmBody(12.5, 105, 4.4, 210), 2000, 0.5, 0.04],
    ['still held at exactly the hold', vllmBody(12.5, 105, 4.4, 210), 1000 + LATENCY_HOLD_MS, 0.5, 0.04],
    ['decays to null after the hold', vllmBody(12.5, 105, 4.4, 210), 1001 + LATENCY_HOLD_MS, null, null],
    ['new observations again', vllmBody(13.5, 109, 4.4, 210), 40_000, 0.25, null],
    ['engine restart: counters reset, all is new', vllmBody(0.6, 2, 0.2, 10), 41_000, 0.3, 0.02],
  ];

  it('follows the engine across scrapes', () => {
    let state: HistogramState | null = null;
    for (const [label, body, at, ttft, tpot] of steps) {
      const r = read(a, body, state, at);
      state = r.state;
      const got = { label, ttft: r.metrics.ttftSeconds, tpot: r.metrics.tpotSeconds };
      const close = (v: number | null | undefined, w: number | null) => (w === null ? v === null : v !== null && v !== undefined && Math.abs(v - w) < 1e-9);
      expect({ ...got, ok: close(got.ttft, ttft) && close(got.tpot, tpot) }).toEqual({ ...got, ok: true });
    }
  });

  it('state of another engine is ignored', () => {
    const r1 = read(a, vllmBody(10, 100), null, 0);
    const foreign: HistogramState = { engine: 'TGI', means: r1.state.means };
    expect(read(a, vllmBody(12.5, 105), foreign, 1000).metrics.ttftSeconds).toBeNull();
  });

  it('a vanished histogram keeps its totals and decays', () => {
    const r1 = read(a, vllmBody(10, 100), null, 0);
    const r2 = read(a, vllmBody(12.5, 105), r1.state, 1000);
    const gone = 'vllm:num_requests_running{model_name="m"} 0\n';
    expect(read(a, gone, r2.state, 2000).metrics.ttftSeconds).toBe(0.5);
    expect(read(a, gone, r2.state, 2000 + LATENCY_HOLD_MS).metrics.ttftSeconds).toBeNull();
  });

  it.each<[string, MeanState | undefined, string | null, { sum: number; count: number } | null, number, Partial<MeanState> | undefined]>([
    ['absent, no state', undefined, null, null, 0, undefined],
    ['renamed histogram keeps the recent mean, new baseline', { metric: 'a', sum: 1, count: 1, mean: 0.2, measuredAt: 0 }, 'b', { sum: 50, count: 9 }, 10, { metric: 'b', sum: 50, count: 9, mean: 0.2, measuredAt: 0 }],
    ['negative mean (a negative sum) ignored', { metric: 'a', sum: 5, count: 1, mean: 0.2, measuredAt: 0 }, 'a', { sum: -1, count: 3 }, 10, { mean: 0.2, measuredAt: 0, count: 3 }],
    ['zero delta of sum is a zero mean', { metric: 'a', sum: 5, count: 1, mean: 0.2, measuredAt: 0 }, 'a', { sum: 5, count: 2 }, 10, { mean: 0, measuredAt: 10 }],
  ])('advanceMean: %s', (_what, prev, metric, totals, now, want) => {
    const got = advanceMean(prev, metric, totals, now);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject(want);
  });
});

describe('vllm:lora_requests_info', () => {
  const line = (running: string, waiting: string, ts: string, max = '4') =>
    `vllm:lora_requests_info{max_lora="${max}",running_lora_adapters="${running}",waiting_lora_adapters="${waiting}"} ${ts}`;
  const cases: Array<[string, string[], ReturnType<typeof vllmLoraState>]> = [
    ['single series', [line('a', '', '1.7e9')], { active: ['a'], waiting: [], maxLoras: 4 }],
    ['newest value wins, wherever it is', [line('old', '', '1.75270001e9'), line('new', 'w1,w2', '1.75270002e9'), line('', '', '1.7527e9')], { active: ['new'], waiting: ['w1', 'w2'], maxLoras: 4 }],
    ['newest says idle', [line('a', '', '100'), line('', '', '200')], { active: [], waiting: [], maxLoras: 4 }],
    ['blanks and duplicates in the list', [line(' a, b ,a,', '', '1')], { active: ['a', 'b'], waiting: [], maxLoras: 4 }],
    ['unparseable max_lora', [line('a', '', '1', 'x')], { active: ['a'], waiting: [], maxLoras: null }],
    ['absent', ['vllm:num_requests_running 0'], null],
  ];
  it.each(cases)('%s', (_what, lines, want) => {
    expect(vllmLoraState(parsePrometheusText(lines.join('\n')).samples)).toEqual(want);
  });
});
