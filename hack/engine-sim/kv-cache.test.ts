import { blockHashes, KvCache } from './kv-cache';

/** Token ids 0..n-1 offset by `base`, so sequences with different bases share nothing. */
const seq = (n: number, base = 0): number[] => Array.from({ length: n }, (_, i) => base + i);

describe('blockHashes', () => {
  it('hashes only full blocks, chained so a block hash names its whole prefix', () => {
    const a = blockHashes(seq(40), 16);
    expect(a).toHaveLength(2);
    const b = blockHashes([...seq(16), ...seq(16, 1000)], 16);
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
    // Same second block content after a different first block hashes differently.
    const c = blockHashes([...seq(16, 500), ...seq(16, 16)], 16);
    expect(c[1]).not.toBe(a[1]);
  });

  it('separates namespaces by seed (LoRA adapters do not share KV with the base model)', () => {
    expect(blockHashes(seq(16), 16, 'lora:x')[0]).not.toBe(blockHashes(seq(16), 16)[0]);
  });
});

describe('KvCache prefix reuse', () => {
  it.each([
    // [name, first prompt, second prompt, expected cached tokens for the second]
    ['identical prompt', seq(64), seq(64), 64],
    ['shared 2-block prefix', seq(64), [...seq(32), ...seq(32, 900)], 32],
    ['partial block is not cached', seq(20), seq(20), 16],
    ['nothing shared', seq(64), seq(64, 5000), 0],
  ])('%s', (_name, first, second, cached) => {
    const kv = new KvCache(32, 16);
    const a = kv.allocate(blockHashes(first, 16), first.length);
    expect(a).not.toBeNull();
    kv.free(a!);
    const b = kv.allocate(blockHashes(second, 16), second.length);
    expect(b!.cachedTokens).toBe(cached);
  });

  it('shares blocks between concurrent sequences via reference counts', () => {
    const kv = new KvCache(8, 16);
    const h = blockHashes(seq(48), 16);
    const a = kv.allocate(h, 48)!;
    const b = kv.allocate(h, 48)!;
    expect(b.cachedTokens).toBe(48);
    expect(b.blockIds).toEqual(a.blockIds);
    expect(kv.usedBlocks()).toBe(3);
    kv.free(a);
    expect(kv.usedBlocks()).toBe(3); // still referenced by b
    kv.free(b);
    expect(kv.usedBlocks()).toBe(0);
    expect(kv.cachedBlocks()).toBe(3); // freed but still cached
  });

  it('honours maxCachedBlocks (vLLM recomputes the last prompt token)', () => {
    const kv = new KvCache(8, 16);
    const h = blockHashes(seq(32), 16);
    kv.free(kv.allocate(h, 32)!);
    expect(kv.allocate(h, 32, 1)!.cachedTokens).toBe(16);
  });
});

describe('KvCache capacity and LRU eviction', () => {
  it('refuses an allocation that does not fit and changes nothing', () => {
    const kv = new KvCache(4, 16);
    kv.allocate(blockHashes(seq(48), 16), 48);
    expect(kv.allocate(blockHashes(seq(32, 100), 16), 32)).toBeNull();
    expect(kv.usedBlocks()).toBe(3);
  });

  it('evicts the least recently freed cached blocks first', () => {
    const kv = new KvCache(4, 16);
    const hA = blockHashes(seq(32, 0), 16);
    const hB = blockHashes(seq(32, 100), 16);
    const hC = blockHashes(seq(32, 200), 16);
    const a = kv.allocate(hA, 32)!;
    const b = kv.allocate(hB, 32)!;
    kv.free(a); // A freed first -> older in the LRU
    kv.free(b);
    kv.allocate(hC, 32); // needs 2 of the 4 free blocks: takes A's
    expect(kv.lookup(hA)).toBe(0);
    expect(kv.lookup(hB)).toBe(2);
    expect(kv.evictions).toBe(2);
  });

  it('frees a sequence tail-first so its shared head survives longest', () => {
    const kv = new KvCache(4, 16);
    const h = blockHashes(seq(64), 16);
    kv.free(kv.allocate(h, 64)!);
    kv.allocate(blockHashes(seq(16, 700), 16), 16); // evicts exactly one block
    expect(kv.lookup(h)).toBe(3); // blocks 0..2 still cached, block 3 evicted
  });

  it('never evicts blocks in use', () => {
    const kv = new KvCache(3, 16);
    const h = blockHashes(seq(32), 16);
    kv.allocate(h, 32);
    expect(kv.allocate(blockHashes(seq(32, 50), 16), 32)).toBeNull();
    expect(kv.lookup(h)).toBe(2);
  });

  it('grows an allocation block by block and reports usage', () => {
    const kv = new KvCache(4, 16);
    const a = kv.allocate([], 10)!;
    expect(kv.usage()).toBe(0.25);
    expect(kv.grow(a, 16)).toBe(true);
    expect(a.blockIds).toHaveLength(1);
    expect(kv.grow(a, 17)).toBe(true);
    expect(a.blockIds).toHaveLength(2);
    expect(kv.grow(a, 100)).toBe(false);
    expect(a.blockIds).toHaveLength(2);
  });

  it('resetPrefixCache forgets free cached blocks only', () => {
    const kv = new KvCache(8, 16);
    const used = blockHashes(seq(16, 1), 16);
    const freed = blockHashes(seq(16, 2), 16);
    kv.allocate(used, 16);
    kv.free(kv.allocate(freed, 16)!);
    expect(kv.resetPrefixCache()).toBe(1);
    expect(kv.lookup(used)).toBe(1);
    expect(kv.lookup(freed)).toBe(0);
  });
});
