import { decodeKvEventBatch, type KvEvent, type KvEventBatch } from './kv-event-decoder';
import { kvEventFixture } from './kv-event-fixtures';
import { KvBlockIndex } from './kv-block-index';
import { loraSeed, tokenBlockHashes } from './token-block-hash';

const BS = 4;
/** 40 distinct tokens: 10 blocks of 4. */
const TOKENS = Array.from({ length: 40 }, (_, i) => 100 + i);

function batch(...events: KvEvent[]): KvEventBatch {
  return { ts: 0, events, dpRank: null, unknownEvents: 0 };
}

/** BlockStored of blocks [from, to) of `tokens`, engine hashes "e<i>" (prefixed by `tag`). */
function stored(from: number, to: number, opts: { tokens?: number[]; tag?: string; lora?: string | null; loraId?: number | null; medium?: string | null; groupIdx?: number | null; bs?: number } = {}): KvEvent {
  const tokens = opts.tokens ?? TOKENS;
  const tag = opts.tag ?? 'e';
  const bs = opts.bs ?? BS;
  return {
    type: 'BlockStored',
    blockHashes: Array.from({ length: to - from }, (_, i) => `${tag}${from + i}`),
    parentBlockHash: from === 0 ? null : `${tag}${from - 1}`,
    tokenIds: tokens.slice(from * bs, to * bs), blockSize: bs,
    loraId: opts.loraId ?? null, loraName: opts.lora ?? null, medium: opts.medium === undefined ? 'GPU' : opts.medium, groupIdx: opts.groupIdx ?? null,
  };
}

function removed(...hashes: string[]): KvEvent {
  return { type: 'BlockRemoved', blockHashes: hashes, medium: 'GPU', groupIdx: null };
}

/** runs[] for a request of `tokens` (base model unless `lora`) over pods 0..7. */
function runs(ix: KvBlockIndex, tokens: number[] = TOKENS, lora: string | null = null, bs = BS): number[] {
  const out = new Int32Array(8);
  ix.match(bs, tokenBlockHashes(tokens, bs, loraSeed(lora), 1000), out);
  return Array.from(out);
}

describe('KvBlockIndex', () => {
  it('indexes a multi-block store and chained stores, per pod', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 3), stored(3, 5)));
    ix.apply(2, batch(stored(0, 2)));
    expect(runs(ix)).toEqual([5, 0, 2, 0, 0, 0, 0, 0]);
    expect(ix.podBlocks(0)).toBe(5);
    expect(ix.blockSizes()).toEqual([BS]);
  });

  it('matches only leading blocks, and only prompts with the same prefix', () => {
    const ix = new KvBlockIndex();
    ix.apply(1, batch(stored(0, 4)));
    const other = [...TOKENS];
    other[9] = 7; // block 2 differs, so blocks 2.. of this prompt are different chains
    expect(runs(ix, other)[1]).toBe(2);
    const shifted = [1, ...TOKENS];
    expect(runs(ix, shifted)[1]).toBe(0);
    expect(runs(ix, TOKENS.slice(0, 7))[1]).toBe(1); // only whole blocks are hashed
  });

  it('stops extending a pod after its run ends, even if it holds later blocks', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 4)));
    ix.apply(1, batch(stored(0, 4)));
    ix.apply(1, batch(removed('e1'))); // pod 1 lost block 1 but keeps 2 and 3
    expect(runs(ix).slice(0, 2)).toEqual([4, 1]);
  });

  it('applies BlockRemoved by engine hash and ignores unknown hashes', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 3)));
    const res = ix.apply(0, batch(removed('e2', 'nope')));
    expect(res.removed).toBe(1);
    expect(runs(ix)[0]).toBe(2);
  });

  it('clears a pod on AllBlocksCleared, leaving other pods', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 3)));
    ix.apply(1, batch(stored(0, 3)));
    expect(ix.apply(0, batch({ type: 'AllBlocksCleared' })).cleared).toBe(true);
    expect(runs(ix).slice(0, 2)).toEqual([0, 3]);
  });

  it('skips and counts a store whose parent it never saw', () => {
    const ix = new KvBlockIndex();
    const res = ix.apply(0, batch(stored(2, 4)));
    expect(res.unchained).toBe(1);
    expect(ix.counters.unchained).toBe(1);
    expect(ix.podBlocks(0)).toBe(0);
  });

  it('keeps a block held while another engine hash of the same tokens remains', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 2, { tag: 'a' }), stored(0, 2, { tag: 'b' })));
    ix.apply(0, batch(removed('a0', 'a1')));
    expect(runs(ix)[0]).toBe(2);
    ix.apply(0, batch(removed('b0')));
    expect(runs(ix)[0]).toBe(0);
  });

  it('evicts the oldest stored blocks beyond maxBlocksPerPod and counts them', () => {
    const ix = new KvBlockIndex({ maxBlocksPerPod: 3 });
    ix.apply(0, batch(stored(0, 2)));
    ix.apply(0, batch(stored(0, 2, { tokens: TOKENS.map((t) => t + 1000), tag: 'x' })));
    expect(ix.podBlocks(0)).toBe(3);
    expect(ix.counters.evicted).toBe(1);
    expect(runs(ix)[0]).toBe(0); // block 0 of the first prompt was the oldest
    expect(runs(ix, TOKENS.map((t) => t + 1000))[0]).toBe(2);
  });

  it('separates adapters by name; a numeric lora_id alone never matches', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 2, { lora: 'sql', tag: 's' })));
    ix.apply(1, batch(stored(0, 2)));
    ix.apply(2, batch(stored(0, 2, { loraId: 3, tag: 'n' })));
    expect(runs(ix, TOKENS, 'sql').slice(0, 3)).toEqual([2, 0, 0]);
    expect(runs(ix, TOKENS, null).slice(0, 3)).toEqual([0, 2, 0]);
    expect(runs(ix, TOKENS, 'chat').slice(0, 3)).toEqual([0, 0, 0]);
    ix.apply(2, batch(removed('n0', 'n1')));
    expect(ix.podBlocks(2)).toBe(0);
  });

  it.each([
    ['a CPU-tier store', { medium: 'CPU' }, 'otherMedium'],
    ['a sliding-window group store', { groupIdx: 1 }, 'otherGroup'],
  ] as const)('ignores %s and counts it', (_what, opts, counter) => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 2, opts)));
    expect(ix.podBlocks(0)).toBe(0);
    expect(ix.counters[counter]).toBe(1);
  });

  it('indexes medium null like GPU (engines that do not say)', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 2, { medium: null })));
    expect(runs(ix)[0]).toBe(2);
  });

  it('keeps block sizes apart and clears a pod whose block size changes', () => {
    const ix = new KvBlockIndex();
    ix.apply(0, batch(stored(0, 2)));
    ix.apply(1, batch(stored(0, 1, { bs: 8 })));
    expect(ix.blockSizes()).toEqual([4, 8]);
    expect(runs(ix, TOKENS, null, 8)[1]).toBe(1);
    expect(ix.apply(0, batch(stored(0, 1, { bs: 8, tag: 'z' }))).cleared).toBe(true);
    expect(runs(ix)[0]).toBe(0);
    expect(runs(ix, TOKENS, null, 8).slice(0, 2)).toEqual([1, 1]);
    expect(ix.blockSizes()).toEqual([8]);
  });

  it('dropPod forgets the pod and its holdings', () => {
    const ix = new KvBlockIndex();
    ix.apply(3, batch(stored(0, 2)));
    ix.dropPod(3);
    expect(runs(ix)[3]).toBe(0);
    expect(ix.stats().pods).toEqual([]);
    expect(ix.blockSizes()).toEqual([]);
  });

  it('skips holders beyond the runs array', () => {
    const ix = new KvBlockIndex();
    ix.apply(20, batch(stored(0, 2)));
    const out = new Int32Array(4);
    ix.match(BS, tokenBlockHashes(TOKENS, BS, 0, 10), out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });

  it('applies decoded msgspec fixtures: stores, chained store, removal, clear', () => {
    const ix = new KvBlockIndex();
    const b = decodeKvEventBatch(kvEventFixture('current-bytes'));
    // Without the trailing AllBlocksCleared: 4 blocks stored, then p3 and p2 removed.
    ix.apply(0, { ...b, events: b.events.slice(0, 3) });
    const prompt = Array.from({ length: 64 }, (_, i) => 1000 + i);
    expect(runs(ix, prompt, null, 16)[0]).toBe(2);
    ix.apply(0, { ...b, events: b.events.slice(3) });
    expect(runs(ix, prompt, null, 16)[0]).toBe(0);
  });

  it('applies an adapter fixture under the adapter name', () => {
    const ix = new KvBlockIndex();
    const b = decodeKvEventBatch(kvEventFixture('current-int-lora'));
    ix.apply(0, b);
    const prompt = Array.from({ length: 16 }, (_, i) => 50 + i);
    expect(runs(ix, prompt, 'chat-adapter', 16)[0]).toBe(1);
    expect(runs(ix, prompt, null, 16)[0]).toBe(0);
    expect(ix.counters.otherGroup).toBe(2); // the sliding-window store and its removal
  });
});
