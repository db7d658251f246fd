/**
 * vLLM's /metrics → EngineMetrics. Names as vLLM's sources define them (V1:
 * vllm/v1/metrics/loggers.py, PrometheusStatLogger; V0: vllm/engine/metrics.py). Every engine
 * metric carries `model_name` (V1 also `engine`, the data-parallel rank); values are summed or
 * averaged over those label sets as below, so DP ranks and aliases count once each.
 *
 *   running     = Σ vllm:num_requests_running
 *   waiting     = Σ vllm:num_requests_waiting (+ Σ vllm:num_requests_swapped, V0 only: preempted
 *                 to CPU, queued for re-admission)
 *   kvUsage     = mean vllm:kv_cache_usage_perc            (V1, since 0.9; a 0–1 fraction)
 *               | mean vllm:gpu_cache_usage_perc           (V0 and V1 ≤ 0.10, deprecated)
 *                 mean, not sum: DP ranks have equal pools, so the mean is the used fraction.
 *   ttftSeconds = Δ_sum / Δ_count of vllm:time_to_first_token_seconds
 *   tpotSeconds = Δ_sum / Δ_count of vllm:inter_token_latency_seconds    (current name)
 *               | same of vllm:time_per_output_token_seconds (older name; in V1 it observes the
 *                 same per-iteration inter-token gaps). Token-weighted: a mean over tokens, not
 *                 over requests (vllm:request_time_per_output_token_seconds is the latter).
 *   lora        = vllm:lora_requests_info{running_lora_adapters, waiting_lora_adapters, max_lora}:
 *                 a gauge set to the wall time of each state, one series per label set ever seen
 *                 (prometheus_client keeps them all), so the series with the largest value is the
 *                 current one. Adapter lists are comma-separated names. Absent (vLLM without
 *                 --enable-lora) → null.
 *   blockSize   = label block_size of vllm:cache_config_info (an info gauge, value 1).
 */
import {
  advanceMean,
  firstHistogram,
  histogramSampleNames,
  histogramTotals,
  meanOf,
  nextState,
  positiveIntLabel,
  previousMeans,
  splitAdapters,
  sumOf,
  type AdapterResult,
  type EngineAdapter,
  type HistogramState,
  type SampleMap,
} from './engine-adapter';
import type { LoraState } from './engine-metrics';

const RUNNING = 'vllm:num_requests_running';
const WAITING = 'vllm:num_requests_waiting';
const SWAPPED = 'vllm:num_requests_swapped';
const KV_USAGE = ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'] as const;
const TTFT = 'vllm:time_to_first_token_seconds';
const TPOT = ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'] as const;
const LORA_INFO = 'vllm:lora_requests_info';
const CACHE_CONFIG = 'vllm:cache_config_info';

/** The current LoRA state from the lora_requests_info series with the newest timestamp. */
export function vllmLoraState(samples: SampleMap): LoraState | null {
  const list = samples.get(LORA_INFO);
  if (!list || list.length === 0) return null;
  let newest = list[0]!;
  for (const s of list) if (s.value > newest.value) newest = s;
  return {
    active: splitAdapters(newest.labels.running_lora_adapters),
    waiting: splitAdapters(newest.labels.waiting_lora_adapters),
    maxLoras: positiveIntLabel(newest.labels.max_lora),
  };
}

/** Reads vLLM (V0 and V1) metrics. */
export class VllmAdapter implements EngineAdapter {
  readonly engine = 'vLLM' as const;
  readonly sampleNames: ReadonlySet<string> = new Set([
    RUNNING,
    WAITING,
    SWAPPED,
    ...KV_USAGE,
    ...histogramSampleNames([TTFT, ...TPOT]),
    LORA_INFO,
    CACHE_CONFIG,
  ]);

  read(samples: SampleMap, previous: HistogramState | null, now = Date.now()): AdapterResult {
    const prev = previousMeans(previous, this.engine);
    const running = sumOf(samples, RUNNING);
    const waiting = sumOf(samples, WAITING);
    let kvUsage: number | null = null;
    for (const name of KV_USAGE) {
      kvUsage = meanOf(samples, name);
      if (kvUsage !== null) break;
    }
    const ttft = advanceMean(prev.ttft, TTFT, histogramTotals(samples, TTFT), now);
    const tpotHist = firstHistogram(samples, TPOT);
    const tpot = advanceMean(prev.tpot, tpotHist?.metric ?? null, tpotHist?.totals ?? null, now);
    const found = running !== null || waiting !== null;
    const cacheConfig = samples.get(CACHE_CONFIG)?.[0];
    return {
      metrics: {
        running: found ? (running ?? 0) : undefined,
        waiting: found ? (waiting ?? 0) + (sumOf(samples, SWAPPED) ?? 0) : undefined,
        kvUsage: kvUsage ?? 0,
        ttftSeconds: ttft?.mean ?? null,
        tpotSeconds: tpot?.mean ?? null,
        lora: vllmLoraState(samples),
        blockSize: positiveIntLabel(cacheConfig?.labels.block_size),
      },
      state: nextState(this.engine, { ttft, tpot }),
    };
  }
}
