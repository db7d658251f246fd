/**
 * Chained block hashes of a prompt, computed lazily per block size and at most once per request.
 * Block i's hash covers block i's characters and block i-1's hash, so equal hashes mean an equal
 * prefix up to and including that block (the same chaining engines use for their KV blocks).
 * Only whole blocks are hashed: a trailing partial block cannot be a cache hit.
 */

import { tokenBlockHashes } from '../kv-events/token-block-hash';

const EMPTY = new Float64Array(0);

/** FNV-1a over a string range, seeded with the previous block's hash; 32-bit. */
function hashBlock(text: string, start: number, end: number, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Mix the seed in again so a block's hash depends on the chain, not just its characters.
  h ^= seed >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

/** The block hashes of one request's prompt. */
export class PrefixHashes {
  private source: string | (() => string);
  private readonly bySize = new Map<number, Uint32Array>();
  /** Token-block hashes by `blockSize:seed`. */
  private tokenBlocks: Map<string, Float64Array> | null = null;

  /**
   * `text` may be a function: the prompt is then extracted only if a plugin asks for hashes, so
   * configurations without a prefix scorer never build it. `tokens` are the request's token ids
   * as the engine computes them (null when no tokenizer ran or it failed).
   */
  constructor(text: string | (() => string), readonly tokens: Uint32Array | null = null) {
    this.source = text;
  }

  /**
   * Chain hashes of the first min(maxBlocks, whole blocks) blocks of `blockSize` tokens, seeded by
   * `seed` (the LoRA adapter's; see kv-events/token-block-hash.ts); empty without tokens. Cached, so
   * scoring a PD server's two roles hashes once.
   */
  tokenHashes(blockSize: number, seed: number, maxBlocks: number): Float64Array {
    if (this.tokens === null) return EMPTY;
    const key = `${blockSize}:${seed}:${maxBlocks}`;
    this.tokenBlocks ??= new Map();
    let out = this.tokenBlocks.get(key);
    if (!out) {
      out = tokenBlockHashes(this.tokens, blockSize, seed, maxBlocks);
      this.tokenBlocks.set(key, out);
    }
    return out;
  }

  private get text(): string {
    if (typeof this.source === 'function') this.source = this.source();
    return this.source;
  }

  /** Hashes of the first min(maxBlocks, whole blocks) blocks of `blockSize` characters. */
  get(blockSize: number, maxBlocks: number): Uint32Array {
    const cached = this.bySize.get(blockSize);
    if (cached && cached.length >= Math.min(maxBlocks, Math.floor(this.text.length / blockSize))) {
      return cached.length > maxBlocks ? cached.subarray(0, maxBlocks) : cached;
    }
    const n = Math.min(maxBlocks, Math.floor(this.text.length / blockSize));
    const out = new Uint32Array(n);
    let prev = 0;
    for (let i = 0; i < n; i++) {
      prev = hashBlock(this.text, i * blockSize, (i + 1) * blockSize, prev);
      out[i] = prev;
    }
    this.bySize.set(blockSize, out);
    return out;
  }
}
