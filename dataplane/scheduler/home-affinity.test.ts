import type { Pool } from 'undici';
import { Endpoint } from '../proxy/endpoint-registry';
import { applyHome, homeIndex, homeKey } from './home-affinity';

/** Endpoints for the same pods as another replica would number them: ids differ, origins do not. */
const replica = (ids: number[]) => ids.map((id, i) => new Endpoint(id, `default/p${i}`, `http://10.0.0.${i + 1}:8000`, 'vLLM', null as unknown as Pool));

describe('home affinity', () => {
  it('picks the same home in every replica, whatever the endpoint ids and order', () => {
    const a = replica([0, 1, 2, 3]);
    const b = replica([7, 3, 9, 1]).reverse();
    const all = Uint8Array.from([1, 1, 1, 1]);
    for (let key = 1; key < 200; key++) {
      expect(a[homeIndex(key, a, all)]!.origin).toBe(b[homeIndex(key, b, all)]!.origin);
    }
  });

  it('spreads keys evenly and moves only the keys of a removed endpoint', () => {
    const eps = replica([0, 1, 2]);
    const all = Uint8Array.from([1, 1, 1]);
    const counts = [0, 0, 0];
    const homes: number[] = [];
    for (let key = 0; key < 30_000; key++) {
      const h = homeIndex(key * 2654435761, eps, all);
      counts[h]!++;
      homes.push(h);
    }
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    const without2 = Uint8Array.from([1, 1, 0]);
    homes.forEach((h, key) => {
      if (h !== 2) expect(homeIndex(key * 2654435761, eps, without2)).toBe(h); // rendezvous: others stay put
    });
  });

  it('raises only the home, only up to homeScore, and not when off or without a key', () => {
    const eps = replica([0, 1, 2]);
    const keep = Uint8Array.from([1, 1, 1]);
    const key = homeKey(Float64Array.from([11, 22, 33]), 2)!;
    const h = homeIndex(key, eps, keep);
    const out = new Float64Array([0, 0, 0]);
    applyHome(key, 0.2, eps, keep, out);
    expect([...out].filter((x) => x === 0.2)).toHaveLength(1);
    expect(out[h]).toBe(0.2);
    const high = new Float64Array([0.9, 0.9, 0.9]);
    applyHome(key, 0.2, eps, keep, high);
    expect([...high]).toEqual([0.9, 0.9, 0.9]);
    const off = new Float64Array([0, 0, 0]);
    applyHome(key, 0, eps, keep, off);
    applyHome(null, 0.2, eps, keep, off);
    expect([...off]).toEqual([0, 0, 0]);
  });

  it('keys a prompt by its first blocks only', () => {
    expect(homeKey(Float64Array.from([1, 2, 3, 4]), 2)).toBe(homeKey(Float64Array.from([1, 2, 9, 9]), 2));
    expect(homeKey(Float64Array.from([1]), 2)).toBe(homeKey(Float64Array.from([1]), 1));
    expect(homeKey(new Float64Array(0), 2)).toBeNull();
  });
});
