import { PieceCache, detachKey } from './piece-cache';

describe('PieceCache', () => {
  it('finds a piece by any range with the same text', () => {
    const c = new PieceCache(16);
    expect(c.get('xx hello yy', 3, 8)).toBeUndefined();
    c.set('xx hello yy', 3, 8, 42);
    expect(c.get('hello', 0, 5)).toBe(42);
    expect(c.get('say hello', 4, 9)).toBe(42);
    expect(c.get('hell', 0, 4)).toBeUndefined();
    c.set('hell', 0, 4, [1, 2]);
    expect(c.get('a hell', 2, 6)).toEqual([1, 2]);
  });

  it('holds at most two generations, and keeps what was used in the last one', () => {
    const c = new PieceCache(100);
    const keep = 'kept';
    c.set(keep, 0, 4, 7);
    for (let i = 0; i < 1000; i++) {
      const k = `k${i}`;
      if (c.get(k, 0, k.length) === undefined) c.set(k, 0, k.length, i);
      expect(c.get(keep, 0, 4)).toBe(7); // touched every round: copied forward on each rotation
      expect(c.size).toBeLessThanOrEqual(200);
    }
    expect(c.rotations).toBeGreaterThanOrEqual(9);
    expect(c.get('k0', 0, 2)).toBeUndefined(); // long gone
    expect(c.get('k999', 0, 4)).toBe(999);
  });

  it('rejects a bad size', () => {
    expect(() => new PieceCache(0)).toThrow('integer >= 1');
  });
});

describe('detachKey', () => {
  it.each(['short', 'a string longer than thirteen units', ''])('returns an equal string for %j', (s) => {
    expect(detachKey(s)).toBe(s);
  });
});
