/**
 * The contract every registered plugin keeps, run over the whole catalog: scorers write scores
 * in [0,1] for every candidate, filters only remove, pickers return candidates only; no plugin
 * changes its inputs; with the same seed, the same inputs give the same outputs.
 */
import { PLUGIN_TYPES } from '../../../shared/config/plugin-catalog';
import { createPlugin, missingFactories } from '../registry';
import { defaults, endpoint, env, request, seeded } from '../test-support';
import type { FilterPlugin, PickerPlugin, ScorerPlugin } from '../types';

const cases = PLUGIN_TYPES.flatMap((p) => p.roles.map((role) => [p.type, role] as const));

function fleet(seed: number) {
  const r = seeded(seed);
  return Array.from({ length: 12 }, (_, i) => endpoint(i, {
    running: Math.floor(r() * 50), waiting: Math.floor(r() * 20), kvUsage: r(),
    ttftSeconds: i % 4 === 0 ? null : r(), tpotSeconds: r() / 10, stale: i === 7,
    lora: { active: i % 3 === 0 ? ['a'] : ['b'], waiting: [], maxLoras: 2 },
  }, Math.floor(r() * 10)));
}

describe('plugin contract', () => {
  it('every catalog type and role has a factory', () => {
    expect(missingFactories()).toEqual([]);
  });

  it.each(cases)('%s as %s keeps the contract', (type, role) => {
    if (role === 'profile-handler') return;
    const run = () => {
      const eps = fleet(3);
      const before = JSON.stringify(eps.map((e) => [e.metrics, e.inFlight]));
      const plugin = createPlugin(type, role, type, defaults(type), env(seeded(42)));
      const req = request('x'.repeat(500), 'a');
      const keep = new Uint8Array(eps.length).fill(1);
      keep[5] = 0;
      const out: number[] = [];
      if (role === 'scorer') {
        const scores = new Float64Array(eps.length).fill(-1);
        (plugin as ScorerPlugin).score(req, eps, keep, scores);
        scores.forEach((s, i) => {
          if (i === 5) expect(s).toBe(-1);
          else {
            expect(s).toBeGreaterThanOrEqual(0);
            expect(s).toBeLessThanOrEqual(1);
          }
        });
        out.push(...scores);
      } else if (role === 'filter') {
        (plugin as FilterPlugin).filter(req, eps, keep);
        expect(keep[5]).toBe(0);
        out.push(...keep);
      } else {
        const total = Float64Array.from(eps.map((_, i) => (i * 7) % 5 / 5));
        const order = new Int32Array(eps.length);
        const n = (plugin as PickerPlugin).pick(eps, keep, total, order);
        expect(n).toBeGreaterThanOrEqual(1);
        for (let k = 0; k < n; k++) expect(keep[order[k]!]).toBe(1);
        expect(new Set(order.subarray(0, n)).size).toBe(n);
        out.push(...order.subarray(0, n));
      }
      expect(JSON.stringify(eps.map((e) => [e.metrics, e.inFlight]))).toBe(before);
      return out;
    };
    expect(run()).toEqual(run());
  });
});
