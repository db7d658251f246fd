import type { SchedulerConfig } from '../../shared/config/scheduler-config';
import { Scheduler } from './scheduler';
import { defaults, endpoint, env, request, seeded } from './test-support';

const config = (over: Partial<SchedulerConfig['profiles'][number]> = {}, plugins: SchedulerConfig['plugins'] = []): SchedulerConfig => ({
  source: 'default',
  origin: 'test',
  plugins: [
    { name: 'least-request', type: 'least-request', parameters: defaults('least-request') },
    { name: 'kv', type: 'kv-cache', parameters: {} },
    { name: 'prefix', type: 'prefix-cache-scorer', parameters: { ...defaults('prefix-cache-scorer'), hashBlockSize: 8 } },
    { name: 'pick', type: 'max-score-picker', parameters: { maxNumOfEndpoints: 1 } },
    { name: 'single', type: 'single-profile-handler', parameters: {} },
    ...plugins,
  ],
  profileHandler: 'single',
  profiles: [{ name: 'default', filters: ['least-request'], scorers: [{ plugin: 'least-request', weight: 1 }, { plugin: 'kv', weight: 1 }], picker: 'pick', ...over }],
});

describe('Scheduler', () => {
  it('combines weighted scores and orders: pick, other candidates by score, then filtered', () => {
    const eps = [
      endpoint(0, { running: 10, kvUsage: 0.5 }), // lr 0, kv 0.5 → 0.25
      endpoint(1, { running: 0, kvUsage: 0.9 }), // lr 1, kv 0.1 → 0.55
      endpoint(2, { running: 5, kvUsage: 0 }), // lr 0.5, kv 1 → 0.75
      endpoint(3, { running: 0, waiting: 30, kvUsage: 0 }), // filtered: 30 waiting > 10
    ];
    const s = new Scheduler(config(), env(seeded(3)));
    const r = s.schedule(request(), eps, true);
    expect(r.order.map((e) => e.id)).toEqual([2, 1, 0, 3]);
    const ex = r.explanations!.get(eps[2]!)!;
    expect(ex.total).toBeCloseTo(0.75);
    expect(ex.scores.map((x) => [x.plugin, x.score])).toEqual([['least-request', 0.5], ['kv', 1]]);
    expect(r.explanations!.get(eps[3]!)!.filtered).toBe(true);
  });

  it('bypasses a filter that would remove every candidate, and says so', () => {
    const eps = [endpoint(0, { waiting: 20 }), endpoint(1, { waiting: 30 })];
    const r = new Scheduler(config(), env()).schedule(request(), eps);
    expect(r.bypassed).toBe(1);
    expect(r.order).toHaveLength(2);
    expect(r.order[0]!.id).toBe(0);
  });

  it('learns prefixes from the endpoint that served', () => {
    const s = new Scheduler(config({ filters: [], scorers: [{ plugin: 'prefix', weight: 1 }] }), env(seeded(5)));
    const eps = [endpoint(0), endpoint(1), endpoint(2)];
    const prompt = 'system prompt shared by the group, long enough for blocks';
    s.served(request(prompt), eps[2]!);
    for (let i = 0; i < 5; i++) expect(s.schedule(request(`${prompt} question ${i}`), eps).order[0]!.id).toBe(2);
  });

  it('refuses a configuration that references a missing plugin or a wrong role', () => {
    expect(() => new Scheduler(config({ scorers: [{ plugin: 'nope', weight: 1 }] }), env())).toThrow(/plugin nope, which is not defined/);
    expect(() => new Scheduler(config({ filters: ['kv'] }), env())).toThrow(/cannot act as a filter/);
  });
});

describe('Scheduler with pd-profile-handler', () => {
  const config = {
    source: 'endpoint-picker' as const, origin: 'test',
    plugins: [
      { name: 'pd', type: 'pd-profile-handler', parameters: { prefillProfile: 'prefill', decodeProfile: 'decode' } },
      { name: 'prefill-filter', type: 'prefill-filter', parameters: {} },
      { name: 'decode-filter', type: 'decode-filter', parameters: {} },
      { name: 'queue-scorer', type: 'queue-scorer', parameters: {} },
      { name: 'max-score-picker', type: 'max-score-picker', parameters: { maxNumOfEndpoints: 1 } },
    ],
    profileHandler: 'pd',
    profiles: [
      { name: 'prefill', filters: ['prefill-filter'], scorers: [{ plugin: 'queue-scorer', weight: 1 }], picker: 'max-score-picker' },
      { name: 'decode', filters: ['decode-filter'], scorers: [{ plugin: 'queue-scorer', weight: 1 }], picker: 'max-score-picker' },
    ],
  };

  it('ranks each role with its own profile, and the decode profile is the primary one', () => {
    const eps = [0, 1, 2, 3].map((i) => endpoint(i, { waiting: i, stale: false }));
    eps[0]!.role = 'prefill';
    eps[1]!.role = 'decode';
    eps[2]!.role = 'prefill';
    eps[3]!.role = 'decode';
    const s = new Scheduler(config, env());
    const prefill = s.schedule(request('x'), eps, false, 'prefill');
    expect(prefill.profile).toBe('prefill');
    expect(prefill.order.slice(0, 2).map((e) => e.role)).toEqual(['prefill', 'prefill']);
    const decode = s.schedule(request('x'), eps, false, 'decode');
    expect(decode.profile).toBe('decode');
    expect(decode.order[0]!.role).toBe('decode');
    expect(s.schedule(request('x'), eps).profile).toBe('decode');
  });
});
