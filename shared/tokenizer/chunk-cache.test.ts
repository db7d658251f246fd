import { ChunkCache } from './chunk-cache';

describe('ChunkCache', () => {
  it('counts hits and misses and returns what was stored', () => {
    const c = new ChunkCache(100);
    expect(c.get('abc')).toBeUndefined();
    c.set('abc', Uint32Array.of(1, 2));
    expect(Array.from(c.get('abc')!)).toEqual([1, 2]);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, chars: 3 });
  });

  it('evicts the least recently used entries to stay within the character bound', () => {
    const c = new ChunkCache(10);
    c.set('aaaa', Uint32Array.of(1));
    c.set('bbbb', Uint32Array.of(2));
    c.get('aaaa'); // now bbbb is the oldest
    c.set('cccc', Uint32Array.of(3));
    expect(c.get('bbbb')).toBeUndefined();
    expect(c.get('aaaa')).toBeDefined();
    expect(c.get('cccc')).toBeDefined();
    expect(c.stats()).toMatchObject({ chars: 8, evictions: 1 });
  });

  it('does not store a chunk larger than the whole cache, and re-setting a key does not double count', () => {
    const c = new ChunkCache(5);
    c.set('123456', Uint32Array.of(1));
    expect(c.stats().entries).toBe(0);
    c.set('ab', Uint32Array.of(1));
    c.set('ab', Uint32Array.of(2));
    expect(c.stats()).toMatchObject({ entries: 1, chars: 2 });
    expect(Array.from(c.get('ab')!)).toEqual([2]);
  });

  it.each([-1, 1.5, NaN])('rejects a bound of %p', (n) => {
    expect(() => new ChunkCache(n)).toThrow(/integer >= 0/);
  });
});
