/**
 * The chain hash of KV blocks by their token ids, shared by the KV-event index (kv-block-index.ts,
 * fed by what engines publish) and the request side (the precise prefix scorer, which tokenizes the
 * request). Keying blocks by token content rather than by the engine's own block hash makes the
 * index independent of the engine's hash algorithm (sha256, xxhash, Python hash()), its seed
 * (PYTHONHASHSEED, NONE_HASH) and its version.
 *
 *   h_{-1} = loraSeed(adapter)        (0 for the base model)
 *   h_i    = tokenBlockHash(h_{i-1}, tokens, i * blockSize, (i + 1) * blockSize)
 *
 * so h_i names the whole prefix up to and including block i, as the engine's hash does.
 *
 * A hash is a non-negative integer below 2^53, so it is an exact JS number (a Map key, a Float64Array
 * element) without BigInt. It is built from two 32-bit lanes, murmur3-style (multiply, rotate,
 * multiply-add per token, each lane with its own constants, both lanes seeded with both halves of
 * the parent), cross-added and finalised with murmur3's fmix32; the result is
 *   (laneA & 0x1fffff) * 2^32 + laneB.
 * With 53 bits, a collision among n distinct blocks has probability about n^2 / 2^54: 5e-5 for a
 * million blocks. Not cryptographic: a client able to craft colliding prompts only misroutes its own
 * requests (the engine still checks its own hashes).
 */

import { fmix32 } from '../../shared/util/hash';

const TWO_32 = 4294967296;
/** The high lane keeps 21 bits so that hi * 2^32 + lo < 2^53. */
const HIGH_MASK = 0x1fffff;


/**
 * Hash of the block tokens[start..end) chained after `parent` (a previous hash, or a seed).
 * Token ids are taken modulo 2^32. Cost: ~3 multiplies per token per lane; a 16-token block
 * takes ~0.05 µs (token-block-hash.test.ts measures it).
 */
export function tokenBlockHash(parent: number, tokens: ArrayLike<number>, start: number, end: number): number {
  // ToUint32 reduces modulo 2^32, so these are exact for any integer parent below 2^53.
  const pLo = parent >>> 0;
  const pHi = (parent / TWO_32) >>> 0;
  let a = Math.imul(pLo ^ 0x9e3779b9, 0xcc9e2d51) ^ pHi;
  let b = Math.imul(pHi ^ 0x7f4a7c15, 0x1b873593) ^ pLo;
  a = (a << 15) | (a >>> 17);
  b = (b << 13) | (b >>> 19);
  for (let i = start; i < end; i++) {
    const k = tokens[i] | 0;
    const ka = Math.imul(k, 0xcc9e2d51);
    a ^= Math.imul((ka << 15) | (ka >>> 17), 0x1b873593);
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    const kb = Math.imul(k, 0x85ebca77);
    b ^= Math.imul((kb << 17) | (kb >>> 15), 0xc2b2ae3d);
    b = (b << 15) | (b >>> 17);
    b = (Math.imul(b, 5) + 0x38495ab5) | 0;
  }
  const len = end - start;
  a ^= len;
  b ^= len;
  // murmur3 x86_128's cross-add: each output lane depends on both.
  a = (a + b) | 0;
  b = (b + a) | 0;
  const hi = fmix32(a);
  const lo = fmix32(b ^ hi);
  return (hi & HIGH_MASK) * TWO_32 + lo;
}

/** FNV-1a over UTF-16 code units with a caller-chosen offset basis. */
function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** 53-bit, never 0, so no adapter seed equals the base model's. */
function seedOf(text: string): number {
  const hi = fmix32(fnv1a(text, 0x811c9dc5)) & HIGH_MASK;
  const lo = fmix32(fnv1a(text, 0x050c5d1f) ^ 0x5bd1e995);
  const s = hi * TWO_32 + lo;
  return s === 0 ? 1 : s;
}

/**
 * Seed of the chain for a LoRA adapter's blocks: 0 for the base model (null), otherwise a
 * 53-bit hash of the adapter name. vLLM keys adapter blocks by the adapter name (lora_name in its
 * block hash's extra keys), so equal names share blocks across pods and nothing else does.
 */
export function loraSeed(lora: string | null): number {
  return lora === null ? 0 : seedOf(`lora:${lora}`);
}

/**
 * Seed for blocks an older engine tagged only with its numeric lora_id. That id is the engine's
 * load-order counter, not known to the router and not stable across pods, so no request can be
 * mapped to it: the seed lives in its own namespace (a NUL byte no adapter name carries) and such
 * blocks never match a request, yet stay out of the base model's chains and can still be removed.
 */
export function unmatchableLoraSeed(loraId: number): number {
  return seedOf(`\u0000lora-id:${loraId}`);
}

/**
 * Chain hashes of the whole blocks of `tokens` (a partial last block is not hashed), at most
 * `maxBlocks` of them, starting from `seed` (loraSeed of the request's adapter).
 */
export function tokenBlockHashes(tokens: ArrayLike<number>, blockSize: number, seed: number, maxBlocks: number): Float64Array {
  if (!(blockSize > 0)) throw new Error(`tokenBlockHashes: blockSize must be positive, got ${blockSize}`);
  const n = Math.max(0, Math.min(Math.floor(tokens.length / blockSize), maxBlocks));
  const out = new Float64Array(n);
  let parent = seed;
  for (let i = 0; i < n; i++) {
    parent = tokenBlockHash(parent, tokens, i * blockSize, (i + 1) * blockSize);
    out[i] = parent;
  }
  return out;
}
