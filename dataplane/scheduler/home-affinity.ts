/**
 * A prompt's "home" endpoint, the same in every data-plane replica: rendezvous (highest random
 * weight) hashing of the prompt's leading blocks over the candidates' origins,
 *
 *   home = argmax_i mix(key, originHash_i)      over the candidates still kept
 *
 * where `key` is the chain hash of the prompt's first 512 characters (in blocks of the approximate
 * index), so prompts that share that much share a home. The prefix scorers give the home
 * at least `homeScore`: when no endpoint holds the prompt yet, replicas that have never seen it
 * (each with its own approximate index, or before the engine's KV events arrive) still send it to
 * the same pod as long as loads are within about `homeScore` of each other (least-request's score
 * is 1 − load / max load), and the scorers' own learning keeps it there afterwards. That is
 * consistent hashing with bounded loads (Mirrokni et al.) expressed as a score: load decides as
 * soon as the home is busier than the others by more than the bonus.
 */
import { fmix32 } from '../../shared/util/hash';
import type { Endpoint } from '../proxy/endpoint-registry';

/** murmur3's finaliser over the key mixed with an origin hash: a uniform weight per (prompt, endpoint). */
function weight(key: number, originHash: number): number {
  return fmix32((Math.imul(key | 0, 0x9e3779b1) ^ originHash) >>> 0);
}

/** The index of the home endpoint among those with `keep[i] === 1`, or -1 when none is kept. */
export function homeIndex(key: number, endpoints: readonly Endpoint[], keep: Uint8Array): number {
  let best = -1;
  let bestW = -1;
  for (let i = 0; i < endpoints.length; i++) {
    if (!keep[i]) continue;
    const w = weight(key, endpoints[i]!.originHash);
    // Ties (1 in 2^32) go to the lower origin hash, so every replica still agrees.
    if (w > bestW || (w === bestW && endpoints[i]!.originHash < endpoints[best]!.originHash)) {
      best = i;
      bestW = w;
    }
  }
  return best;
}

/** The key of a prompt from its chained block hashes: the hash of block min(n, blocks) − 1; null without a whole block. */
export function homeKey(hashes: ArrayLike<number>, blocks: number): number | null {
  const n = Math.min(hashes.length, Math.max(1, blocks));
  if (n === 0) return null;
  // Float64 token-block hashes are < 2^53: fold the high part in so no bits are wasted.
  const h = hashes[n - 1]!;
  return (h % 4294967296) ^ Math.floor(h / 4294967296);
}

/** Raises the home endpoint's score to at least `homeScore` (no-op for 0 or no key). */
export function applyHome(key: number | null, homeScore: number, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
  if (key === null || homeScore <= 0) return;
  const i = homeIndex(key, endpoints, keep);
  if (i >= 0 && out[i]! < homeScore) out[i] = homeScore;
}
