import { blockHashes, KvCache, type KvCacheEvents } from './kv-cache';

type Ev = ['stored', string[], string | null, number[], string | null] | ['removed', string] | ['cleared'];

function recorder(): { events: Ev[]; sink: KvCacheEvents } {
  const events: Ev[] = [];
  return {
    events,
    sink: {
      stored: (h, p, t, l) => events.push(['stored', [...h], p, [...t], l]),
      removed: (h) => events.push(['removed', h]),
      cleared: () => events.push(['cleared']),
    },
  };
}

const BS = 2;
const A = [1, 2, 3, 4, 5]; // two full blocks and a partial one
const hA = blockHashes(A, BS);

describe('KvCache events', () => {
  it('reports the full blocks an allocation registers, with their tokens, adapter and parent', () => {
    const kv = new KvCache(8, BS);
    const r = recorder();
    kv.events = r.sink;
    kv.allocate(hA, A.length, hA.length, { tokens: A, lora: 'sql' });
    expect(r.events).toEqual([['stored', hA, null, [1, 2, 3, 4], 'sql']]);
  });

  it('starts a new event after a block that was already cached elsewhere', () => {
    const kv = new KvCache(8, BS);
    const r = recorder();
    kv.events = r.sink;
    const first = kv.allocate(hA, 4, 0, { tokens: A, lora: null });
    const longer = [1, 2, 3, 4, 9, 9];
    const hL = blockHashes(longer, BS);
    // maxCachedBlocks 0: blocks 0 and 1 are computed again and stay anonymous; block 2 is new.
    kv.allocate(hL, longer.length, 0, { tokens: longer, lora: null });
    expect(first).not.toBeNull();
    expect(r.events[1]).toEqual(['stored', [hL[2]], hL[1], [9, 9], null]);
    expect(r.events).toHaveLength(2);
  });

  it('reports no event without a source (no tokens to report)', () => {
    const kv = new KvCache(8, BS);
    const r = recorder();
    kv.events = r.sink;
    kv.allocate(hA, A.length);
    expect(r.events).toEqual([]);
  });

  it('reports evicted blocks as removed', () => {
    const kv = new KvCache(3, BS);
    const r = recorder();
    kv.events = r.sink;
    const a = kv.allocate(hA, 4, 2, { tokens: A, lora: null });
    kv.free(a!);
    const B = [7, 8, 9, 10, 11, 12];
    kv.allocate(blockHashes(B, BS), B.length, 0, { tokens: B, lora: null });
    // Freed tail-first, so block 1 is evicted before block 0.
    expect(r.events.filter((e) => e[0] === 'removed')).toEqual([['removed', hA[1]], ['removed', hA[0]]]);
  });

  it.each([
    ['nothing in use: all cleared', false, [['cleared']]],
    ['a sequence in use keeps its blocks: only the forgotten ones are removed', true, [['removed', blockHashes([7, 8], BS)[0]]]],
  ] as const)('on reset, %s', (_what, keepOne, want) => {
    const kv = new KvCache(8, BS);
    const a = kv.allocate(hA, 4, 2, { tokens: A, lora: null });
    const b = kv.allocate(blockHashes([7, 8], BS), 2, 1, { tokens: [7, 8], lora: null });
    kv.free(b!);
    if (!keepOne) kv.free(a!);
    const r = recorder();
    kv.events = r.sink;
    kv.resetPrefixCache();
    expect(r.events).toEqual(want);
  });
});
