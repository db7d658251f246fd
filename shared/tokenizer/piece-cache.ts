/**
 * Pre-token text → token ids, bounded by entry count with two generations instead of an LRU
 * list: lookups go to the current Map, then to the previous one (a hit there is copied forward);
 * when the current Map is full it becomes the previous one and the old previous is dropped. So
 * at most 2 × `perGeneration` entries are held, anything used within the last `perGeneration`
 * insertions survives, and a hit in the current generation is one Map.get (an LRU would also
 * delete and re-insert on every hit, which is most of the cost when almost everything hits).
 */

/**
 * Ids of one pre-token: a single id as a number (most pre-tokens, and no allocation), several as
 * a plain array (a small typed array costs ~4× the memory of a 2-element array in V8).
 */
export type PieceIds = number | readonly number[];

/** Default generation size: 32 Ki pre-tokens, so at most 64 Ki entries (~8 MiB; see the ADR). */
export const DEFAULT_PIECE_CACHE_ENTRIES = 32 * 1024;

/** Two-generation bounded cache of pre-token ids. */
export class PieceCache {
  private current = new Map<string, PieceIds>();
  private previous = new Map<string, PieceIds>();
  /** Generations retired so far (each drops up to `perGeneration` entries). */
  rotations = 0;

  /** `perGeneration` ≥ 1 entries per generation. */
  constructor(readonly perGeneration: number = DEFAULT_PIECE_CACHE_ENTRIES) {
    if (!(Number.isInteger(perGeneration) && perGeneration >= 1)) {
      throw new Error(`piece cache generation size must be an integer >= 1, got ${perGeneration}`);
    }
  }

  /** Ids of `piece`, or undefined. */
  get(piece: string): PieceIds | undefined {
    const v = this.current.get(piece);
    if (v !== undefined) return v;
    const old = this.previous.get(piece);
    if (old !== undefined) this.set(piece, old);
    return old;
  }

  /**
   * Store `ids` for `piece` in the current generation, rotating when it is full. The caller
   * passes a key that does not pin a larger string (see detachKey).
   */
  set(piece: string, ids: PieceIds): void {
    if (this.current.size >= this.perGeneration) {
      this.previous = this.current;
      this.current = new Map();
      this.rotations++;
    }
    this.current.set(piece, ids);
  }

  /** Entries held now (at most 2 × perGeneration; a piece may sit in both generations). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/**
 * A copy of `s` that does not keep a longer parent string alive. V8 returns substrings of 13 or
 * more UTF-16 units as views into the parent (a regex match of a 100 KiB prompt would otherwise
 * pin the prompt for as long as the cache holds the piece); concatenating and slicing flattens
 * into a new string of length + 1, which the view then refers to. Shorter strings are copies.
 */
export function detachKey(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
