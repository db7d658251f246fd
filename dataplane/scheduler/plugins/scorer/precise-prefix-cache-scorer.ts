/**
 * precise-prefix-cache-scorer (llm-d's name), also `kvcache-aware` (Kthena).
 * Parameters: maxPrefixBlocksToMatch (256; Kthena's maxBlocksToMatch, default 128 there),
 * fallback (`approximate` | `none`, default approximate), approximateHashBlockSize (64),
 * approximateLruCapacityPerServer (31250), pendingWeight (0.9), homeScore (0.2; 0 is off; see home-affinity.ts).
 *
 * For an endpoint whose KV events are live (see kv-events/kv-event-hub.ts), with B its engine's
 * block size and the request's token ids t (from the server's tokenizer):
 *
 *   blocks  = min(maxPrefixBlocksToMatch, ⌊len(t) / B⌋)
 *   h_k     = chain hash of t[kB, (k+1)B) after h_{k-1}, h_{-1} = seed of the LoRA adapter (0 for the base model)
 *   score_i = (leading k with h_0..h_k all reported stored by endpoint i) / blocks   (0 when blocks = 0)
 *
 * i.e. the fraction of the prompt's whole blocks the engine itself says it holds, in order from
 * the start (a block after a missing one cannot be reused). An engine reports blocks only once it
 * admits a request, which in a burst can be seconds after this data plane sent it there; so a live
 * endpoint scores max(score_i, pendingWeight × approximate_i), where the approximate index holds
 * what this data plane sent where (below): a request sent but not yet admitted still draws its
 * group's next requests, and a block the engine really holds (1) still beats one only sent
 * (pendingWeight < 1). Endpoints whose events are not live,
 * or every endpoint when the request could not be tokenized, are scored like prefix-cache-scorer
 * from an approximate index of where requests went (fallback `approximate`), or 0 (`none`); that
 * index is fed by every pick so it is warm when needed. With homeScore > 0 the prompt's home
 * endpoint (keyed by its first 512 characters) scores at least that.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import { loraSeed } from '../../../kv-events/token-block-hash';
import type { KvEventsView, ScorerPlugin, SchedulingRequest } from '../../types';
import { applyHome, homeKey } from '../../home-affinity';
import type { PrefixIndex } from '../../prefix-index';
import { PrefixCacheScorer } from './prefix-cache-scorer';

/** Type name. */
export const PRECISE_PREFIX_CACHE_SCORER = 'precise-prefix-cache-scorer';

/** Parameters, defaults applied. */
export interface PrecisePrefixCacheParams {
  maxPrefixBlocksToMatch: number;
  fallback: 'approximate' | 'none';
  approximateHashBlockSize: number;
  approximateLruCapacityPerServer: number;
  pendingWeight: number;
  homeScore?: number;
}

/** Characters of a prompt that name its home (home-affinity.ts). */
const HOME_CHARS = 512;

/** Scores endpoints by the leading share of the prompt their engine reports caching. */
export class PrecisePrefixCacheScorer implements ScorerPlugin {
  readonly type = PRECISE_PREFIX_CACHE_SCORER;
  private readonly approximate: PrefixCacheScorer;
  private runs = new Int32Array(64);
  /** Per-request scratch: which kept endpoints were scored precisely. */
  private precise = new Uint8Array(16);
  /** Per-request scratch: approximate scores, for the pending term. */
  private approx = new Float64Array(16);

  constructor(readonly name: string, readonly params: PrecisePrefixCacheParams, index: PrefixIndex, private readonly kv: KvEventsView | null) {
    this.approximate = new PrefixCacheScorer(`${name}/approximate`, {
      hashBlockSize: params.approximateHashBlockSize,
      maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch,
      lruCapacityPerServer: params.approximateLruCapacityPerServer,
    }, index);
  }

  score(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    const n = endpoints.length;
    if (this.precise.length < n) this.precise = new Uint8Array(n * 2);
    const precise = this.precise;
    precise.fill(0, 0, n);
    let fallbacks = 0;
    let maxId = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      const id = endpoints[i]!.id;
      if (id > maxId) maxId = id;
      const bs = this.kv !== null && req.hashes.tokens !== null ? this.kv.liveBlockSize(id) : 0;
      if (bs > 0) precise[i] = 1;
      else fallbacks++;
    }
    // The approximate scores serve the fallback and the pending term; computed once.
    const pendingWeight = this.params.pendingWeight;
    const kept = countKept(keep, n);
    if (this.approx.length < n) this.approx = new Float64Array(n * 2);
    const approx = this.approx;
    approx.fill(0, 0, n);
    if ((fallbacks > 0 && this.params.fallback === 'approximate') || (fallbacks < kept && pendingWeight > 0)) this.approximate.score(req, endpoints, keep, approx);
    if (fallbacks > 0) {
      const useApprox = this.params.fallback === 'approximate';
      for (let i = 0; i < n; i++) if (keep[i] && precise[i] === 0) out[i] = useApprox ? approx[i]! : 0;
      if (fallbacks === kept) {
        this.home(req, endpoints, keep, out);
        return;
      }
    }
    if (this.runs.length <= maxId) this.runs = new Int32Array((maxId + 1) * 2);
    const seed = loraSeed(req.lora);
    // Engines of one server normally share a block size; group by it anyway (one match per size).
    let left = kept - fallbacks;
    for (let i = 0; i < n && left > 0; i++) {
      if (!keep[i] || precise[i] !== 1) continue;
      const bs = this.kv!.liveBlockSize(endpoints[i]!.id);
      const hashes = req.hashes.tokenHashes(bs, seed, this.params.maxPrefixBlocksToMatch);
      this.runs.fill(0);
      if (hashes.length > 0) this.kv!.match(bs, hashes, this.runs);
      for (let j = i; j < n; j++) {
        if (!keep[j] || precise[j] !== 1 || this.kv!.liveBlockSize(endpoints[j]!.id) !== bs) continue;
        const held = hashes.length === 0 ? 0 : this.runs[endpoints[j]!.id]! / hashes.length;
        const sent = pendingWeight * approx[j]!;
        out[j] = held > sent ? held : sent;
        precise[j] = 2;
        left--;
      }
    }
    this.home(req, endpoints, keep, out);
  }

  /**
   * Raises the prompt's home endpoint to homeScore. The home is keyed by the prompt's characters,
   * not its tokens: every replica can compute that, whether or not it tokenized the request and
   * whichever pods' events it has seen, so all replicas agree.
   */
  private home(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    const score = this.params.homeScore ?? 0;
    if (score <= 0) return;
    const size = this.params.approximateHashBlockSize;
    applyHome(homeKey(req.hashes.get(size, this.params.maxPrefixBlocksToMatch), Math.floor(HOME_CHARS / size)), score, endpoints, keep, out);
  }

  /**
   * How many leading token ids this scorer can look at: maxPrefixBlocksToMatch blocks of the
   * largest block size an engine reports (Infinity before any has reported). The traffic path
   * tokenizes no further, so a 32k-token prompt is not tokenized whole to match its first 4k.
   */
  tokensNeeded(): number {
    const bs = this.kv?.maxBlockSize() ?? 0;
    return bs > 0 ? this.params.maxPrefixBlocksToMatch * bs : Infinity;
  }

  /** Feeds the approximate index (the fallback) with the endpoint that serves this request. */
  record(req: SchedulingRequest, endpoint: Endpoint): void {
    this.approximate.record(req, endpoint);
  }
}

function countKept(keep: Uint8Array, n: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) k += keep[i]!;
  return k;
}
