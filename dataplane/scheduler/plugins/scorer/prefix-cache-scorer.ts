/**
 * prefix-cache-scorer (endpoint picker), also `prefix-cache` (Kthena).
 * Parameters: hashBlockSize (characters per block, default 64), maxPrefixBlocksToMatch (256),
 * lruCapacityPerServer (31250 block hashes per endpoint), maxHashCacheSize (Kthena: global cap),
 * homeScore (0: off; the least score of the prompt's home endpoint, see home-affinity.ts).
 *
 *   blocks  = min(maxPrefixBlocksToMatch, ⌊len(prompt) / hashBlockSize⌋)
 *   score_i = matchedLeadingBlocks_i / blocks            (0 for all when blocks = 0)
 *
 * matchedLeadingBlocks counts the prompt's leading blocks that endpoint i served before, per the
 * prefix index. The index learns from outcomes: the endpoint that actually served a request
 * records its blocks (`record`), so failovers teach the index the truth.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import { applyHome, homeKey } from '../../home-affinity';
import type { PrefixIndex } from '../../prefix-index';
import type { ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const PREFIX_CACHE_SCORER = 'prefix-cache-scorer';

/** Parameters, defaults applied. */
export interface PrefixCacheParams {
  hashBlockSize: number;
  maxPrefixBlocksToMatch: number;
  lruCapacityPerServer: number;
  maxHashCacheSize?: number;
  homeScore?: number;
}

/** Blocks of the approximate hash that name a prompt's home: its first 512 characters at the default 64. */
const HOME_CHARS = 512;

/** Scores endpoints that likely hold the prompt's prefix in cache higher. */
export class PrefixCacheScorer implements ScorerPlugin {
  readonly type = PREFIX_CACHE_SCORER;
  private runs = new Int32Array(64);

  constructor(readonly name: string, readonly params: PrefixCacheParams, private readonly index: PrefixIndex) {
    index.configure(params.lruCapacityPerServer, params.maxHashCacheSize ?? null);
  }

  score(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    const hashes = req.hashes.get(this.params.hashBlockSize, this.params.maxPrefixBlocksToMatch);
    if (hashes.length === 0) {
      for (let i = 0; i < endpoints.length; i++) if (keep[i]) out[i] = 0;
      return;
    }
    this.scoreHashes(hashes, endpoints, keep, out);
    applyHome(homeKey(hashes, Math.floor(HOME_CHARS / this.params.hashBlockSize)), this.params.homeScore ?? 0, endpoints, keep, out);
  }

  /** The share of `hashes` each kept endpoint served before, without the home bonus. */
  private scoreHashes(hashes: Uint32Array, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    let maxId = 0;
    for (const ep of endpoints) if (ep.id > maxId) maxId = ep.id;
    if (this.runs.length <= maxId) this.runs = new Int32Array((maxId + 1) * 2);
    this.runs.fill(0);
    this.index.match(hashes, this.runs);
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) out[i] = this.runs[endpoints[i]!.id]! / hashes.length;
  }

  /** Teaches the index that `endpoint` served this request. */
  record(req: SchedulingRequest, endpoint: Endpoint): void {
    this.index.record(endpoint.id, req.hashes.get(this.params.hashBlockSize, this.params.maxPrefixBlocksToMatch));
  }
}
