/**
 * BPE merging on token ids: the merge table from tokenizer.json (`model.merges`) and the merge
 * loop that applies it to one pre-token.
 *
 * Order of merges, as both the Rust crate and @huggingface/tokenizers apply them: repeatedly merge
 * the adjacent pair with the lowest rank (its index in `merges`); among equal ranks the leftmost
 * (smallest original position) goes first. The library orders its heap by `rank + position /
 * length`, Rust by `(rank, position)`; both are this order. A binary heap keyed by
 * `rank * 2^32 + position` (exact in a double while rank < 2^21) gives O(n log n) per pre-token
 * instead of the O(n²) of a rescan per merge: a 5,000-letter word takes ~2 ms warm (the library
 * ~20–40 ms).
 */

/** 2^32: a heap key is rank * POS_SPAN + position; positions stay below it. */
const POS_SPAN = 4294967296;

/**
 * Id pair → rank, open addressing with linear probing on Int32Arrays at a load factor ≤ 1/2
 * (capacity: the power of two ≥ 2 × pairs; 12 bytes a slot, 6 MiB for Qwen3's 151k merges).
 * A Map keyed by a * width + b would box every key above 2^31 as a heap number; this builds in
 * ~0.6× the time (~75 ms for Qwen3) and looks up without allocating.
 */
class PairTable {
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  private readonly v: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(pairs: number) {
    let cap = 16;
    while (cap < 2 * pairs) cap *= 2;
    this.a = new Int32Array(cap).fill(-1);
    this.b = new Int32Array(cap);
    this.v = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(x: number, y: number): number {
    // Multiplicative hashing of both halves (odd constants), then probe from there.
    return (Math.imul(x, 0x9e3779b1) ^ Math.imul(y + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  }

  /** Set the rank of (x, y), replacing an earlier one. */
  set(x: number, y: number, rank: number): void {
    const { a, b, mask } = this;
    // Bounded: the table is at most half full, so an empty slot is reached.
    for (let i = this.slot(x, y) & mask; ; i = (i + 1) & mask) {
      if (a[i] === -1) { a[i] = x; b[i] = y; this.v[i] = rank; this.size++; return; }
      if (a[i] === x && b[i] === y) { this.v[i] = rank; return; }
    }
  }

  /** Rank of (x, y), or -1. */
  get(x: number, y: number): number {
    const { a, b, mask } = this;
    for (let i = this.slot(x, y) & mask; ; i = (i + 1) & mask) {
      const ai = a[i]!;
      if (ai === -1) return -1;
      if (ai === x && b[i] === y) return this.v[i]!;
    }
  }
}

/** The merge table of one BPE model, keyed by id pairs. */
export class BpeMerges {
  /** Rank of each id pair. */
  private readonly ranks: PairTable;
  /** Id of the token made by the merge of each rank. */
  private readonly mergedId: Int32Array;
  // Scratch arrays reused across calls (grown on demand): symbol ids, links and the heap.
  private sym = new Int32Array(64);
  private next = new Int32Array(64);
  private prev = new Int32Array(64);
  private heap = new Float64Array(192);

  private constructor(ranks: PairTable, mergedId: Int32Array) {
    this.ranks = ranks;
    this.mergedId = mergedId;
  }

  /**
   * Build from `model.merges` (`"a b"` strings or `[a, b]` pairs) and the vocabulary. A later
   * duplicate of a pair takes the later rank (the library builds its Map in order, so the last
   * one wins). Returns a reason instead when a merge names or makes a token not in the vocabulary
   * (the Rust crate refuses such a file too).
   */
  static build(merges: unknown, vocab: ReadonlyMap<string, number>): BpeMerges | string {
    if (!Array.isArray(merges)) return 'model.merges is not a list';
    if (merges.length >= 2 ** 21) return `${merges.length} merges: ranks would not fit the heap key`;
    for (const id of vocab.values()) if (id >= 2 ** 31) return `vocabulary id ${id} does not fit an Int32Array`;
    const ranks = new PairTable(merges.length);
    const mergedId = new Int32Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const m: unknown = merges[r];
      let a: unknown;
      let b: unknown;
      if (typeof m === 'string') {
        const parts = m.split(' ');
        if (parts.length !== 2) return `merge ${r} ${JSON.stringify(m)} is not two tokens`;
        [a, b] = parts;
      } else if (Array.isArray(m) && m.length === 2) {
        [a, b] = m;
      } else return `merge ${r} is neither "a b" nor [a, b]`;
      if (typeof a !== 'string' || typeof b !== 'string') return `merge ${r} holds a non-string`;
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const im = vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        return `merge ${r} (${JSON.stringify(a)}, ${JSON.stringify(b)}) uses or makes a token outside the vocabulary`;
      }
      ranks.set(ia, ib, r);
      mergedId[r] = im;
    }
    return new BpeMerges(ranks, mergedId);
  }

  /** Number of distinct pairs in the table. */
  get size(): number {
    return this.ranks.size;
  }

  /**
   * Merge the symbols `ids[0..n)` (one id per byte-level character) in place; returns the number
   * of ids left at the front of `ids`.
   */
  merge(ids: Int32Array, n: number): number {
    if (n < 2) return n;
    this.reserve(n);
    const { sym, next, prev, ranks, mergedId } = this;
    for (let i = 0; i < n; i++) {
      sym[i] = ids[i]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    let size = 0;
    for (let i = 0; i + 1 < n; i++) {
      const r = ranks.get(sym[i]!, sym[i + 1]!);
      if (r >= 0) size = this.push(size, r * POS_SPAN + i);
    }
    // Bounded: each pop removes a heap entry and at most two are pushed per merge, of which there
    // are fewer than n.
    while (size > 0) {
      const key = this.heap[0]!;
      size = this.pop(size);
      const r = Math.floor(key / POS_SPAN);
      const pos = key - r * POS_SPAN;
      const right = next[pos]!;
      // Skip entries made stale by an earlier merge: the symbol is gone, has no right neighbour,
      // or the pair there is no longer the one of rank r (a rank names exactly one pair).
      if (sym[pos]! < 0 || right < 0 || ranks.get(sym[pos]!, sym[right]!) !== r) continue;
      sym[pos] = mergedId[r]!;
      sym[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos]!;
      if (before >= 0) {
        const rl = ranks.get(sym[before]!, sym[pos]!);
        if (rl >= 0) size = this.push(size, rl * POS_SPAN + before);
      }
      if (after >= 0) {
        const rr = ranks.get(sym[pos]!, sym[after]!);
        if (rr >= 0) size = this.push(size, rr * POS_SPAN + pos);
      }
    }
    let k = 0;
    for (let i = 0; i >= 0; i = next[i]!) ids[k++] = sym[i]!;
    return k;
  }

  private reserve(n: number): void {
    if (this.sym.length >= n) return;
    const cap = Math.max(n, this.sym.length * 2);
    this.sym = new Int32Array(cap);
    this.next = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    // Initial pairs (n - 1) plus at most two per merge (n - 1): under 3n entries.
    this.heap = new Float64Array(3 * cap);
  }

  /** Sift `key` up into a min-heap of `size` entries; returns the new size. */
  private push(size: number, key: number): number {
    const h = this.heap;
    let i = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= key) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = key;
    return size + 1;
  }

  /** Remove the minimum of a heap of `size` entries; returns the new size. */
  private pop(size: number): number {
    const h = this.heap;
    const last = h[--size]!;
    let i = 0;
    // Bounded: i at least doubles each step.
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && h[c + 1]! < h[c]!) c++;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return size;
  }
}
