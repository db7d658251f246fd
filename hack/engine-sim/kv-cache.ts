/**
 * Paged KV cache with automatic prefix caching, modelled on vLLM's V1 block
 * pool:
 * - the cache is `numBlocks` blocks of `blockSize` tokens;
 * - a *full* block is identified by a chained hash
 *   h_i = H(h_{i-1} || tokens of block i), with h_{-1} a per-adapter seed, so a
 *   block hash names the whole prefix up to and including that block;
 * - blocks are reference-counted by the sequences using them; a block whose
 *   count drops to 0 goes to the tail of the free queue but keeps its hash, so a
 *   later request with the same prefix can take it back (a prefix-cache hit);
 * - new blocks are taken from the head of the free queue, i.e. the least
 *   recently freed block is evicted first (LRU), and its hash is forgotten.
 * With a listener (`events`), registrations, evictions and resets are reported as vLLM's KV
 * events report them; allocations then carry their sequence's tokens (KvAllocation.source).
 */

import { fmix32 } from '../../shared/util/hash';

/** Blocks held by one sequence. */
export interface KvAllocation {
  /** Block ids in sequence order. */
  blockIds: number[];
  /** Hashes of the sequence's full blocks that have been computed, in order. */
  hashes: string[];
  /** Leading prompt tokens served from the prefix cache at allocation time. */
  cachedTokens: number;
  /** The sequence's tokens and adapter, for KV events (set when the cache has a listener). */
  source?: KvBlockSource;
}

/** What a sequence's blocks hold: its token ids (prompt + generated so far) and its adapter. */
export interface KvBlockSource {
  tokens: readonly number[];
  lora: string | null;
}

/**
 * Listener for changes of the prefix cache, as vLLM reports them in its KV events
 * (kv-events-publisher.ts turns them into BlockStored / BlockRemoved / AllBlocksCleared).
 */
export interface KvCacheEvents {
  /** Full blocks `hashes` (consecutive, in chain order) were registered; `tokens` are theirs. */
  stored(hashes: readonly string[], parent: string | null, tokens: readonly number[], lora: string | null): void;
  /** A cached block was evicted or forgotten. */
  removed(hash: string): void;
  /** Every cached block was forgotten. */
  cleared(): void;
}

/** A KV-event sink that also learns where engine steps begin and end (it batches per step). */
export interface KvStepEvents extends KvCacheEvents {
  beginStep(): void;
  endStep(): void;
}

interface Block {
  id: number;
  /** Chained hash when the block is full and registered in the cache, else null. */
  hash: string | null;
  refCount: number;
}


/**
 * Chained hash of one block: 16 hex characters from two independent 32-bit lanes (FNV-1a and a
 * murmur-style multiply-rotate) over the parent hash and the block's token ids, each finalised
 * with fmix32. Not cryptographic; it only has to tell blocks apart (a collision between two of the
 * few million blocks a run hashes is ~1e-7 likely) and be cheap: a 128-token block costs ~1 µs,
 * where sha256 over the joined ids cost ~15 µs and dominated the simulator's CPU with 4k-token
 * prompts.
 */
export function chainHash(parent: string, ids: readonly number[]): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9 ^ ids.length;
  for (let i = 0; i < parent.length; i++) {
    const c = parent.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b = (b << 13) | (b >>> 19);
  }
  a = Math.imul(a ^ 0x3a, 0x01000193); // ':' between parent and block
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    a = Math.imul(a ^ (id & 0xffff), 0x01000193);
    a = Math.imul(a ^ (id >>> 16), 0x01000193);
    b = Math.imul(b ^ id, 0x5bd1e995);
    b = (b << 13) | (b >>> 19);
  }
  return fmix32(a).toString(16).padStart(8, '0') + fmix32(b ^ a).toString(16).padStart(8, '0');
}

/**
 * Hashes of every full block of `tokens`. `seed` separates caches that must not
 * share blocks (vLLM mixes the LoRA id into the hash the same way).
 */
export function blockHashes(tokens: readonly number[], blockSize: number, seed = ''): string[] {
  const out: string[] = [];
  let parent = seed;
  for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
    parent = chainHash(parent, tokens.slice(start, start + blockSize));
    out.push(parent);
  }
  return out;
}

/** The block pool. All methods are synchronous and O(blocks touched). */
export class KvCache {
  private readonly blocks: Block[];
  /** Free blocks in eviction order (Map keeps insertion order: head = oldest). */
  private readonly freeQueue = new Map<number, Block>();
  private readonly byHash = new Map<string, Block>();
  /** Cached blocks dropped to make room, for /sim/state. */
  evictions = 0;
  /** Listener for KV events, when the pod publishes them. */
  events: KvCacheEvents | null = null;

  /** Create a pool of `numBlocks` empty blocks of `blockSize` tokens. */
  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
  ) {
    this.blocks = [];
    for (let id = 0; id < numBlocks; id++) {
      const b: Block = { id, hash: null, refCount: 0 };
      this.blocks.push(b);
      this.freeQueue.set(id, b);
    }
  }

  /** Blocks referenced by at least one sequence. */
  usedBlocks(): number {
    return this.numBlocks - this.freeQueue.size;
  }

  /** Blocks currently registered in the prefix cache (in use or free). */
  cachedBlocks(): number {
    return this.byHash.size;
  }

  /** Fraction of blocks in use, 0..1 (vLLM's kv_cache_usage_perc: 1 - free/total). */
  usage(): number {
    return this.usedBlocks() / this.numBlocks;
  }

  /** Number of leading hashes present in the cache (no side effects). */
  lookup(hashes: readonly string[]): number {
    let n = 0;
    while (n < hashes.length && this.byHash.has(hashes[n])) n++;
    return n;
  }

  /** Blocks needed to hold `numTokens` tokens. */
  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  /**
   * Allocate blocks for a sequence of `numTokens` tokens whose full-block
   * hashes are `hashes`; at most `maxCachedBlocks` leading blocks are taken
   * from the cache (vLLM always recomputes the last prompt token, so callers
   * cap hits below the prompt length). Returns null, changing nothing, when
   * there are not enough free blocks.
   */
  allocate(hashes: readonly string[], numTokens: number, maxCachedBlocks = hashes.length, source?: KvBlockSource): KvAllocation | null {
    const hit = Math.min(this.lookup(hashes), maxCachedBlocks);
    const cached = hashes.slice(0, hit).map((h) => this.byHash.get(h) as Block);
    // Cached blocks that sit in the free queue stop being free once reused.
    const cachedButFree = cached.filter((b) => b.refCount === 0).length;
    const needNew = Math.max(0, this.blocksFor(numTokens) - hit);
    if (needNew > this.freeQueue.size - cachedButFree) return null;

    for (const b of cached) this.ref(b);
    const alloc: KvAllocation = { blockIds: cached.map((b) => b.id), hashes: hashes.slice(0, hit), cachedTokens: hit * this.blockSize, source };
    for (let i = 0; i < needNew; i++) alloc.blockIds.push(this.takeFree().id);
    // Register the full prompt blocks we are about to compute.
    this.commit(alloc, hashes);
    return alloc;
  }

  /**
   * Grow an allocation to hold `numTokens` tokens. Returns false, changing
   * nothing, when the pool has too few free blocks (the caller preempts).
   */
  grow(alloc: KvAllocation, numTokens: number): boolean {
    const need = this.blocksFor(numTokens) - alloc.blockIds.length;
    if (need <= 0) return true;
    if (need > this.freeQueue.size) return false;
    for (let i = 0; i < need; i++) alloc.blockIds.push(this.takeFree().id);
    return true;
  }

  /**
   * Register full blocks of an allocation in the prefix cache. `hashes` are the
   * sequence's full-block hashes (a superset of alloc.hashes). A block whose
   * hash is already cached elsewhere stays anonymous (duplicates are not kept).
   */
  commit(alloc: KvAllocation, hashes: readonly string[]): void {
    const limit = Math.min(hashes.length, alloc.blockIds.length);
    // Newly registered blocks form runs of consecutive blocks; each run is one stored event.
    let runStart = -1;
    for (let i = alloc.hashes.length; i < limit; i++) {
      const h = hashes[i];
      const b = this.blocks[alloc.blockIds[i]];
      if (!this.byHash.has(h) && b.hash === null) {
        b.hash = h;
        this.byHash.set(h, b);
        if (runStart < 0) runStart = i;
      } else if (runStart >= 0) {
        this.emitStored(alloc, hashes, runStart, i);
        runStart = -1;
      }
      alloc.hashes.push(h);
    }
    if (runStart >= 0) this.emitStored(alloc, hashes, runStart, limit);
  }

  /** Report blocks [from, to) of an allocation as stored (needs the allocation's tokens). */
  private emitStored(alloc: KvAllocation, hashes: readonly string[], from: number, to: number): void {
    if (!this.events || !alloc.source) return;
    const bs = this.blockSize;
    this.events.stored(hashes.slice(from, to), from > 0 ? hashes[from - 1] : null, alloc.source.tokens.slice(from * bs, to * bs), alloc.source.lora);
  }

  /**
   * Release a sequence's blocks. They are queued tail-first in reverse order so
   * the end of a sequence is evicted before its (more shareable) beginning.
   */
  free(alloc: KvAllocation): void {
    for (let i = alloc.blockIds.length - 1; i >= 0; i--) {
      const b = this.blocks[alloc.blockIds[i]];
      b.refCount--;
      if (b.refCount === 0) this.freeQueue.set(b.id, b);
    }
    alloc.blockIds = [];
    alloc.hashes = [];
  }

  /** Forget every cached block that is not in use (vLLM's /reset_prefix_cache). Returns how many. */
  resetPrefixCache(): number {
    const forgotten: string[] = [];
    for (const b of this.freeQueue.values()) {
      if (b.hash !== null) {
        this.byHash.delete(b.hash);
        forgotten.push(b.hash);
        b.hash = null;
      }
    }
    // Blocks in use keep their hashes; only when none is left is this an "all cleared".
    if (this.events && forgotten.length > 0) {
      if (this.byHash.size === 0) this.events.cleared();
      else for (const h of forgotten) this.events.removed(h);
    }
    return forgotten.length;
  }

  private ref(b: Block): void {
    if (b.refCount === 0) this.freeQueue.delete(b.id);
    b.refCount++;
  }

  /** Pop the LRU free block, evicting its cached contents. Caller checked there is one. */
  private takeFree(): Block {
    const first = this.freeQueue.values().next();
    if (first.done) throw new Error('kv-cache: no free block (caller must check capacity)');
    const b = first.value;
    this.freeQueue.delete(b.id);
    if (b.hash !== null) {
      this.byHash.delete(b.hash);
      this.events?.removed(b.hash);
      b.hash = null;
      this.evictions++;
    }
    b.refCount = 1;
    return b;
  }
}
