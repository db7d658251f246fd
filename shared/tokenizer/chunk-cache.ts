/**
 * LRU map from chunk text to its token ids, bounded by the total characters of the keys (ids
 * cost about as much: a chunk averages ~4 characters per token, 4 bytes per id). A Map keeps
 * insertion order, so re-inserting on a hit makes the first key the least recently used.
 */

/** Default bound: 8 Mi characters of chunk text (~16 MiB of strings plus ~8 MiB of ids). */
export const DEFAULT_CHUNK_CACHE_CHARS = 8 * 1024 * 1024;

/** Counters for a debug dump. */
export interface ChunkCacheStats {
  hits: number;
  misses: number;
  entries: number;
  chars: number;
  maxChars: number;
  evictions: number;
}

/** Chunk text → ids, least recently used evicted first. */
export class ChunkCache {
  private readonly map = new Map<string, Uint32Array>();
  private chars = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  /** `maxChars` ≥ 0; 0 disables caching. */
  constructor(readonly maxChars: number = DEFAULT_CHUNK_CACHE_CHARS) {
    if (!(Number.isInteger(maxChars) && maxChars >= 0)) throw new Error(`chunk cache size must be an integer >= 0, got ${maxChars}`);
  }

  /** Ids of `text`, or undefined; counts a hit or a miss. */
  get(text: string): Uint32Array | undefined {
    const ids = this.map.get(text);
    if (ids === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Move to the most recently used end.
    this.map.delete(text);
    this.map.set(text, ids);
    return ids;
  }

  /** Store ids for `text`; a chunk larger than the whole cache is not stored. */
  set(text: string, ids: Uint32Array): void {
    if (text.length > this.maxChars) return;
    const old = this.map.get(text);
    if (old !== undefined) this.map.delete(text);
    else this.chars += text.length;
    this.map.set(text, ids);
    // Bounded: each iteration removes one entry.
    while (this.chars > this.maxChars) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.chars -= oldest.length;
      this.evictions++;
    }
  }

  /** Snapshot of the counters. */
  stats(): ChunkCacheStats {
    return {
      hits: this.hits, misses: this.misses, entries: this.map.size, chars: this.chars, maxChars: this.maxChars,
      evictions: this.evictions,
    };
  }
}
