/**
 * kv-cache-utilization-scorer (endpoint picker), also `kv-cache` and `gpu-usage` (Kthena).
 *
 *   score_i = 1 - kvUsage_i        (kvUsage in [0,1], e.g. vllm:kv_cache_usage_perc)
 *
 * Stale endpoints score 0.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const KV_CACHE_UTILIZATION_SCORER = 'kv-cache-utilization-scorer';

/** Scores more free KV cache higher. */
export class KvCacheScorer implements ScorerPlugin {
  readonly type = KV_CACHE_UTILIZATION_SCORER;
  constructor(readonly name: string) {}

  score(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    for (let i = 0; i < endpoints.length; i++) {
      if (!keep[i]) continue;
      const m = endpoints[i]!.metrics;
      const usage = m.kvUsage < 0 ? 0 : m.kvUsage > 1 ? 1 : m.kvUsage;
      out[i] = m.stale ? 0 : 1 - usage;
    }
  }
}
