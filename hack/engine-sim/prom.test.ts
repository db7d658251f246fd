import { buckets125, EngineStats } from './metrics';
import { renderMetrics } from './metrics-render';
import { Exposition, formatNumber, Histogram } from './prom';
import { lintExposition, parseSamples } from './prom-lint';
import type { EngineSnapshot } from './engine';

describe('Histogram', () => {
  it('accumulates buckets, sum and count with +Inf last', () => {
    const h = new Histogram([0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe(v);
    expect(h.cumulative()).toEqual([
      ['0.1', 2],
      ['1.0', 3],
      ['10.0', 4],
      ['+Inf', 5],
    ]);
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(55.65);
  });

  it('rejects non-increasing bounds', () => {
    expect(() => new Histogram([1, 1])).toThrow();
  });
});

describe('formatNumber', () => {
  it.each([
    [1, '1.0'],
    [0.005, '0.005'],
    [Infinity, '+Inf'],
    [NaN, 'NaN'],
    [1234567, '1234567.0'],
  ])('%p -> %s', (v, s) => {
    expect(formatNumber(v)).toBe(s);
  });
});

describe('buckets125', () => {
  it('matches vLLM build_1_2_5_buckets', () => {
    expect(buckets125(100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(buckets125(32768).at(-1)).toBe(20000);
  });
});

describe('lintExposition', () => {
  it('accepts a well-formed document with escaped labels', () => {
    const h = new Histogram([1]);
    h.observe(0.5);
    const text = new Exposition()
      .gauge('a:b', 'help', [[{ x: 'quote " back \\ nl \n' }, 1]])
      .counter('c_total', 'help', [[{}, 3]])
      .histogram('d_seconds', 'help', [[{ m: 'x' }, h]])
      .toString();
    expect(lintExposition(text)).toEqual([]);
    expect(parseSamples(text).find((s) => s.name === 'c_total')?.value).toBe(3);
  });

  it.each([
    ['sample without TYPE', 'foo 1\n'],
    ['bad value', '# TYPE foo gauge\nfoo one\n'],
    ['unquoted label', '# TYPE foo gauge\nfoo{a=b} 1\n'],
    ['duplicate TYPE', '# TYPE foo gauge\n# TYPE foo gauge\nfoo 1\n'],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['non-cumulative buckets', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'],
    ['missing final newline', '# TYPE foo gauge\nfoo 1'],
  ])('rejects %s', (_name, text) => {
    expect(lintExposition(text).length).toBeGreaterThan(0);
  });

  it('refuses to write a family twice', () => {
    const x = new Exposition().gauge('g', 'h', []);
    expect(() => x.gauge('g', 'h', [])).toThrow();
  });
});

describe('renderMetrics', () => {
  const snap: EngineSnapshot = {
    pod: 'p', namespace: 'ns', role: 'decode', group: 'g1', flavour: 'vllm', modelName: 'm', running: 2, waiting: 3,
    maxNumSeqs: 8, batchMaxTokens: 100,
    kv: { blockSize: 16, numGpuBlocks: 100, usedBlocks: 25, cachedBlocks: 30, usage: 0.25, evictions: 0 },
    loras: { max: 4, registered: ['a'], resident: ['a'], running: ['a'], waiting: [], loads: 1, evictions: 0 },
  };

  it.each(['vllm', 'sglang', 'tgi'] as const)('%s output lints clean and carries the gauges', (flavour) => {
    const stats = new EngineStats(flavour, 4096);
    stats.hist.ttft.observe(0.2);
    stats.hist.itl.observe(0.02);
    stats.noteLoraState(['a'], [], 4, 1700000000.5);
    const text = renderMetrics(stats, { ...snap, flavour });
    expect(lintExposition(text)).toEqual([]);
    const samples = parseSamples(text);
    const running = { vllm: 'vllm:num_requests_running', sglang: 'sglang:num_running_reqs', tgi: 'tgi_batch_current_size' }[flavour];
    const waiting = { vllm: 'vllm:num_requests_waiting', sglang: 'sglang:num_queue_reqs', tgi: 'tgi_queue_size' }[flavour];
    expect(samples.find((s) => s.name === running)).toMatchObject({ value: 2, labels: { model_name: 'm' } });
    expect(samples.find((s) => s.name === waiting)?.value).toBe(3);
    expect(samples.find((s) => s.name === 'sim_pod_info')?.labels.role).toBe('decode');
  });

  it('vLLM exposes both KV usage names, lora_requests_info and cache_config_info', () => {
    const stats = new EngineStats('vllm', 4096);
    stats.noteLoraState(['a', 'b'], ['c'], 4, 1700000000.5);
    const samples = parseSamples(renderMetrics(stats, snap));
    expect(samples.find((s) => s.name === 'vllm:kv_cache_usage_perc')?.value).toBe(0.25);
    expect(samples.find((s) => s.name === 'vllm:gpu_cache_usage_perc')?.value).toBe(0.25);
    const lora = samples.filter((s) => s.name === 'vllm:lora_requests_info');
    expect(lora.at(-1)).toEqual({
      name: 'vllm:lora_requests_info',
      labels: { running_lora_adapters: 'a,b', waiting_lora_adapters: 'c', max_lora: '4' },
      value: 1700000000.5,
    });
    expect(samples.find((s) => s.name === 'vllm:cache_config_info')?.labels).toMatchObject({
      block_size: '16',
      num_gpu_blocks: '100',
    });
  });
});
