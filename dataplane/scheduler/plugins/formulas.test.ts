/** Table tests of every plugin's formula, with the numbers worked out by hand. */
import { LeastRequestFilter } from './filter/least-request-filter';
import { MaxScorePicker } from './picker/max-score-picker';
import { WeightedRandomPicker } from './picker/weighted-random-picker';
import { KvCacheScorer } from './scorer/kv-cache-scorer';
import { LeastLatencyScorer } from './scorer/least-latency-scorer';
import { LeastRequestScorer } from './scorer/least-request-scorer';
import { LoraAffinityScorer } from './scorer/lora-affinity-scorer';
import { PrefixCacheScorer } from './scorer/prefix-cache-scorer';
import { QueueScorer } from './scorer/queue-scorer';
import type { Endpoint } from '../../proxy/endpoint-registry';
import type { EngineMetrics } from '../../engines/engine-metrics';
import { PrefixIndex } from '../prefix-index';
import { endpoint, request, seeded } from '../test-support';
import type { ScorerPlugin } from '../types';

type Spec = [Partial<EngineMetrics>, number?];
const fleet = (specs: Spec[]): Endpoint[] => specs.map(([m, f], i) => endpoint(i, m, f ?? 0));
const scores = (plugin: ScorerPlugin, eps: Endpoint[], req = request()) => {
  const out = new Float64Array(eps.length);
  plugin.score(req, eps, new Uint8Array(eps.length).fill(1), out);
  return [...out].map((x) => Math.round(x * 1000) / 1000);
};

describe('scorer formulas', () => {
  it.each<[string, Spec[], number[]]>([
    ['loads 0, 5, 10 → 1, 0.5, 0', [[{ running: 0 }], [{ running: 3, waiting: 2 }], [{ running: 10 }]], [1, 0.5, 0]],
    ['in-flight beats a stale scrape: max(running+waiting, inFlight)', [[{ running: 1 }, 8], [{ running: 4 }]], [0, 0.5]],
    ['all idle → all 1', [[{}], [{}]], [1, 1]],
    ['stale endpoint counts in-flight only', [[{ running: 50, stale: true }, 2], [{ running: 4 }]], [0.5, 0]],
  ])('least-request: %s', (_n, specs, expected) => expect(scores(new LeastRequestScorer('lr'), fleet(specs))).toEqual(expected));

  it.each<[string, Spec[], number[]]>([
    ['queues 0, 5, 10 → 1, 0.5, 0', [[{ waiting: 0 }], [{ waiting: 5 }], [{ waiting: 10 }]], [1, 0.5, 0]],
    ['equal queues → 1', [[{ waiting: 3 }], [{ waiting: 3 }]], [1, 1]],
    ['stale → 0', [[{ waiting: 0, stale: true }], [{ waiting: 3 }]], [0, 1]],
  ])('queue-scorer: %s', (_n, specs, expected) => expect(scores(new QueueScorer('q'), fleet(specs))).toEqual(expected));

  it.each<[string, Spec[], number[]]>([
    ['1 - usage', [[{ kvUsage: 0 }], [{ kvUsage: 0.25 }], [{ kvUsage: 1 }]], [1, 0.75, 0]],
    ['stale → 0', [[{ kvUsage: 0.1, stale: true }]], [0]],
  ])('kv-cache: %s', (_n, specs, expected) => expect(scores(new KvCacheScorer('kv'), fleet(specs))).toEqual(expected));

  it.each<[number, Spec[], number[]]>([
    // ttft scores 1, 0.5, 0; tpot scores 0, 0.5, 1 → f·ttft + (1-f)·tpot
    [0.5, [[{ ttftSeconds: 0.1, tpotSeconds: 0.03 }], [{ ttftSeconds: 0.2, tpotSeconds: 0.02 }], [{ ttftSeconds: 0.3, tpotSeconds: 0.01 }]], [0.5, 0.5, 0.5]],
    [1, [[{ ttftSeconds: 0.1, tpotSeconds: 0.03 }], [{ ttftSeconds: 0.2, tpotSeconds: 0.02 }], [{ ttftSeconds: 0.3, tpotSeconds: 0.01 }]], [1, 0.5, 0]],
    [0.25, [[{ ttftSeconds: 0.1, tpotSeconds: 0.03 }], [{ ttftSeconds: 0.2, tpotSeconds: 0.02 }], [{ ttftSeconds: 0.3, tpotSeconds: 0.01 }]], [0.25, 0.5, 0.75]],
    // no samples yet: treated as the fastest
    [0.5, [[{ ttftSeconds: null, tpotSeconds: null }], [{ ttftSeconds: 0.2, tpotSeconds: 0.02 }], [{ ttftSeconds: 0.4, tpotSeconds: 0.04 }]], [1, 1, 0]],
  ])('least-latency with factor %d', (factor, specs, expected) => expect(scores(new LeastLatencyScorer('ll', factor), fleet(specs))).toEqual(expected));

  it.each<[string, string | null, Spec[], number[]]>([
    ['loaded 1, free slot 0.5, full 0', 'a', [[{ lora: { active: ['a'], waiting: [], maxLoras: 2 } }], [{ lora: { active: ['b'], waiting: [], maxLoras: 2 } }], [{ lora: { active: ['b', 'c'], waiting: [], maxLoras: 2 } }]], [1, 0.5, 0]],
    ['waiting adapters take slots', 'a', [[{ lora: { active: ['b'], waiting: ['c'], maxLoras: 2 } }]], [0]],
    ['unknown slot count counts as free', 'a', [[{ lora: { active: ['b'], waiting: [], maxLoras: null } }]], [0.5]],
    ['waiting for it counts as resident', 'a', [[{ lora: { active: ['b'], waiting: ['a'], maxLoras: 2 } }]], [1]],
    ['registered but idle: a free slot, not resident', 'a', [[{ lora: { active: ['b'], waiting: [], maxLoras: 2, registered: ['a', 'b'] } }]], [0.5]],
    ['not registered on the pod: it cannot serve it', 'a', [[{ lora: { active: ['b'], waiting: [], maxLoras: 4, registered: ['b'] } }]], [0]],
    ['base-model request → 1', null, [[{ lora: { active: [], waiting: [], maxLoras: 0 } }]], [1]],
  ])('lora-affinity: %s', (_n, lora, specs, expected) => expect(scores(new LoraAffinityScorer('la'), fleet(specs), request('', lora))).toEqual(expected));

  it('prefix-cache: share of leading blocks served before, learnt from where requests went', () => {
    const index = new PrefixIndex(1000);
    const scorer = new PrefixCacheScorer('pc', { hashBlockSize: 4, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 1000 }, index);
    const eps = fleet([[{}], [{}], [{}]]);
    scorer.record(request('aaaabbbbccccdddd'), eps[0]!); // 4 blocks on pod 0
    scorer.record(request('aaaabbbbxxxx'), eps[1]!); // shares 2 blocks
    expect(scores(scorer, eps, request('aaaabbbbccccdddd'))).toEqual([1, 0.5, 0]);
    expect(scores(scorer, eps, request('aaaabbbbcccczz'))).toEqual([1, 0.667, 0]); // 3 whole blocks
    expect(scores(scorer, eps, request('zzzzbbbb'))).toEqual([0, 0, 0]); // chained: block 2 alone does not match
    expect(scores(scorer, eps, request('aaa'))).toEqual([0, 0, 0]); // no whole block
  });

  it('prefix-cache: the per-endpoint LRU forgets the oldest blocks first', () => {
    const index = new PrefixIndex(2);
    const scorer = new PrefixCacheScorer('pc', { hashBlockSize: 2, maxPrefixBlocksToMatch: 10, lruCapacityPerServer: 2 }, index);
    const eps = fleet([[{}]]);
    scorer.record(request('aabb'), eps[0]!);
    scorer.record(request('ccdd'), eps[0]!);
    expect(scores(scorer, eps, request('aabb'))).toEqual([0]);
    expect(scores(scorer, eps, request('ccdd'))).toEqual([1]);
  });
});

describe('filters and pickers', () => {
  it('least-request filter drops endpoints with more waiting than maxWaitingRequests', () => {
    const eps = fleet([[{ waiting: 10 }], [{ waiting: 11 }], [{ waiting: 50, stale: true }]]);
    const keep = new Uint8Array(3).fill(1);
    new LeastRequestFilter('f', 10).filter(request(), eps, keep);
    expect([...keep]).toEqual([1, 0, 1]);
  });

  it('lora-affinity filter keeps the best tier present', () => {
    const eps = fleet([[{ lora: { active: ['b'], waiting: [], maxLoras: 2 } }], [{ lora: { active: ['a'], waiting: [], maxLoras: 2 } }], [{ lora: { active: ['b', 'c'], waiting: [], maxLoras: 2 } }]]);
    const keep = new Uint8Array(3).fill(1);
    new LoraAffinityScorer('la').filter(request('', 'a'), eps, keep);
    expect([...keep]).toEqual([0, 1, 0]);
  });

  it('max-score-picker returns the best maxNumOfEndpoints, best first, and breaks ties at random', () => {
    const eps = fleet([[{}], [{}], [{}], [{}]]);
    const total = Float64Array.from([0.2, 0.9, 0.5, 0.9]);
    const firsts = new Set<number>();
    for (let seed = 1; seed < 20; seed++) {
      const order = new Int32Array(4);
      const n = new MaxScorePicker('p', 3, seeded(seed)).pick(eps, new Uint8Array(4).fill(1), total, order);
      expect(n).toBe(3);
      expect(new Set([order[0], order[1]])).toEqual(new Set([1, 3]));
      expect(order[2]).toBe(2);
      firsts.add(order[0]!);
    }
    expect(firsts.size).toBe(2);
  });

  it('weighted-random-picker picks in proportion to score', () => {
    const eps = fleet([[{}], [{}]]);
    const total = Float64Array.from([0.75, 0.25]);
    const picker = new WeightedRandomPicker('w', 1, seeded(7));
    const counts = [0, 0];
    for (let i = 0; i < 4000; i++) {
      const order = new Int32Array(2);
      picker.pick(eps, new Uint8Array(2).fill(1), total, order);
      counts[order[0]!]! += 1;
    }
    expect(counts[0]! / 4000).toBeGreaterThan(0.72);
    expect(counts[0]! / 4000).toBeLessThan(0.78);
  });
});
