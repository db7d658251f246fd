/**
 * Pre-token text → token ids, looked up by a range of the text being encoded so that a hit
 * allocates nothing (slicing a substring per pre-token to use a Map costs ~40% of the encode
 * time in allocation and garbage collection).
 *
 * Two generations instead of an LRU list: lookups go to the current table, then to the previous
 * one (a hit there is copied forward); when the current table holds `perGeneration` entries it
 * becomes the previous one and the old previous is cleared for reuse. So at most
 * 2 × `perGeneration` entries are held, anything used within the last `perGeneration` insertions
 * survives, and a hit costs one hash of the range and usually one probe.
 *
 * Each generation is an open-addressing table (linear probing, load ≤ 1/2) keyed by a seeded
 * 32-bit hash of the UTF-16 units. A probe sequence is cut at MAX_PROBES: a key that would need
 * more is treated as a miss and not stored, so text crafted to collide costs at most the uncached
 * encode, never a long scan.
 */

/**
 * Ids of one pre-token: a single id as a number (most pre-tokens, and no allocation), several as
 * a plain array (a small typed array costs ~4× the memory of a 2-element array in V8).
 */
export type PieceIds = number | readonly number[];

/** Default generation size: 32 Ki pre-tokens, so at most 64 Ki entries (≤ ~10 MiB, measured with novel words). */
export const DEFAULT_PIECE_CACHE_ENTRIES = 32 * 1024;

/** Longest probe sequence before a lookup gives up (a miss) and an insert is skipped. */
export const MAX_PROBES = 32;

/** One generation: parallel arrays of slots. */
class Table {
  readonly keys: (string | undefined)[];
  readonly hashes: Int32Array;
  readonly vals: (PieceIds | undefined)[];
  count = 0;

  constructor(readonly capacity: number) {
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.vals = new Array<PieceIds | undefined>(capacity).fill(undefined);
  }

  clear(): void {
    this.keys.fill(undefined);
    this.vals.fill(undefined);
    this.count = 0;
  }

  /** Slot holding s[a, b) (hash h): its index if present, else -1 - (first empty slot), or NO_SLOT. */
  find(s: string, a: number, b: number, h: number): number {
    const mask = this.capacity - 1;
    const len = b - a;
    let i = h & mask;
    for (let p = 0; p < MAX_PROBES; p++, i = (i + 1) & mask) {
      const k = this.keys[i];
      if (k === undefined) return -1 - i;
      if (this.hashes[i] === h && k.length === len) {
        let j = 0;
        while (j < len && k.charCodeAt(j) === s.charCodeAt(a + j)) j++;
        if (j === len) return i;
      }
    }
    return NO_SLOT;
  }
}

/** find() result when the probe limit was reached without a match or an empty slot. */
const NO_SLOT = -2147483648;

/** Two-generation bounded cache of pre-token ids, looked up by text range. */
export class PieceCache {
  private current: Table;
  private previous: Table;
  /** Per-process seed: collisions cannot be precomputed offline. */
  private readonly seed = (Math.random() * 2 ** 32) | 0;
  /** Generations retired so far (each drops up to `perGeneration` entries). */
  rotations = 0;

  /** `perGeneration` ≥ 1 entries per generation. */
  constructor(readonly perGeneration: number = DEFAULT_PIECE_CACHE_ENTRIES) {
    if (!(Number.isInteger(perGeneration) && perGeneration >= 1)) {
      throw new Error(`piece cache generation size must be an integer >= 1, got ${perGeneration}`);
    }
    let cap = 16;
    while (cap < 2 * perGeneration) cap *= 2;
    this.current = new Table(cap);
    this.previous = new Table(cap);
  }

  /** FNV-1a over the UTF-16 units, seeded, with a final avalanche so low bits index well. */
  private hash(s: string, a: number, b: number): number {
    let h = this.seed ^ (b - a);
    for (let i = a; i < b; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    return h ^ (h >>> 13);
  }

  /** Ids of the pre-token s[a, b), or undefined. */
  get(s: string, a: number, b: number): PieceIds | undefined {
    const h = this.hash(s, a, b);
    const i = this.current.find(s, a, b, h);
    if (i >= 0) return this.current.vals[i];
    const j = this.previous.find(s, a, b, h);
    if (j < 0) return undefined;
    const v = this.previous.vals[j]!;
    this.insert(this.previous.keys[j]!, s, a, b, h, v);
    return v;
  }

  /** Store `ids` for s[a, b) (hashed again: only misses pay it, next to a BPE merge). */
  set(s: string, a: number, b: number, ids: PieceIds): void {
    this.insert(undefined, s, a, b, this.hash(s, a, b), ids);
  }

  private insert(key: string | undefined, s: string, a: number, b: number, h: number, ids: PieceIds): void {
    if (this.current.count >= this.perGeneration) {
      const t = this.previous;
      t.clear();
      this.previous = this.current;
      this.current = t;
      this.rotations++;
    }
    const i = this.current.find(s, a, b, h);
    if (i === NO_SLOT || i >= 0) return; // too crowded, or already there
    const slot = -1 - i;
    this.current.keys[slot] = key ?? detachKey(s.slice(a, b));
    this.current.hashes[slot] = h;
    this.current.vals[slot] = ids;
    this.current.count++;
  }

  /** Entries held now (at most 2 × perGeneration; a piece may sit in both generations). */
  get size(): number {
    return this.current.count + this.previous.count;
  }
}

/**
 * A copy of `s` that does not keep a longer parent string alive. V8 returns substrings of 13 or
 * more UTF-16 units as views into the parent (a slice of a 100 KiB prompt would otherwise pin
 * the prompt for as long as the cache holds the piece); concatenating and slicing flattens into
 * a new string of length + 1, which the view then refers to. Shorter strings are copies.
 */
export function detachKey(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
