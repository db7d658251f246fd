/**
 * SGLang's /metrics → EngineMetrics. Names as python/sglang/srt/metrics/collector.py defines
 * them (SchedulerMetricsCollector for the gauges, TokenizerMetricsCollector for the latency
 * histograms). Labels: `model_name` plus the parallel ranks (`tp_rank`, `dp_rank`, ...; old
 * releases used `name`); counts are summed over label sets, ratios averaged.
 *
 *   running     = Σ sglang:num_running_reqs
 *   waiting     = Σ sglang:num_queue_reqs   (the scheduler's waiting queue; the grammar and PD
 *                 transfer queues are not load the router can move)
 *   kvUsage     = mean sglang:token_usage   (used / max_total_num_tokens of the KV pool, 0–1)
 *               | Σ sglang:num_used_tokens / Σ sglang:max_total_num_tokens   (when token_usage is absent)
 *   ttftSeconds = Δ_sum / Δ_count of sglang:time_to_first_token_seconds
 *   tpotSeconds = Δ_sum / Δ_count of sglang:inter_token_latency_seconds        (current name)
 *               | same of sglang:time_per_output_token_seconds                 (older releases)
 *   lora        = maxLoras from sglang:lora_pool_slots_total (only with --enable-lora); SGLang
 *                 exports no adapter names, so active/waiting come from /v1/models (scraper).
 *                 Absent → null.
 *   blockSize   = null: the radix cache is token-granular (page size is not exported).
 */
import {
  advanceMean,
  firstHistogram,
  histogramSampleNames,
  histogramTotals,
  loraSlots,
  meanOf,
  nextState,
  previousMeans,
  sumOf,
  type AdapterResult,
  type EngineAdapter,
  type HistogramState,
  type SampleMap,
} from './engine-adapter';

const RUNNING = 'sglang:num_running_reqs';
const WAITING = 'sglang:num_queue_reqs';
const TOKEN_USAGE = 'sglang:token_usage';
const USED_TOKENS = 'sglang:num_used_tokens';
const MAX_TOKENS = 'sglang:max_total_num_tokens';
const TTFT = 'sglang:time_to_first_token_seconds';
const TPOT = ['sglang:inter_token_latency_seconds', 'sglang:time_per_output_token_seconds'] as const;
const LORA_SLOTS = 'sglang:lora_pool_slots_total';

/** Reads SGLang metrics. */
export class SglangAdapter implements EngineAdapter {
  readonly engine = 'SGLang' as const;
  readonly sampleNames: ReadonlySet<string> = new Set([
    RUNNING,
    WAITING,
    TOKEN_USAGE,
    USED_TOKENS,
    MAX_TOKENS,
    ...histogramSampleNames([TTFT, ...TPOT]),
    LORA_SLOTS,
  ]);

  read(samples: SampleMap, previous: HistogramState | null, now = Date.now()): AdapterResult {
    const prev = previousMeans(previous, this.engine);
    const running = sumOf(samples, RUNNING);
    const waiting = sumOf(samples, WAITING);
    let kvUsage = meanOf(samples, TOKEN_USAGE);
    if (kvUsage === null) {
      const used = sumOf(samples, USED_TOKENS);
      const max = sumOf(samples, MAX_TOKENS);
      if (used !== null && max !== null && max > 0) kvUsage = used / max;
    }
    const ttft = advanceMean(prev.ttft, TTFT, histogramTotals(samples, TTFT), now);
    const tpotHist = firstHistogram(samples, TPOT);
    const tpot = advanceMean(prev.tpot, tpotHist?.metric ?? null, tpotHist?.totals ?? null, now);
    // Mean, not sum: each DP rank reports its own pool of the same size.
    const slots = meanOf(samples, LORA_SLOTS);
    const found = running !== null || waiting !== null;
    return {
      metrics: {
        running: found ? (running ?? 0) : undefined,
        waiting: found ? (waiting ?? 0) : undefined,
        kvUsage: kvUsage ?? 0,
        ttftSeconds: ttft?.mean ?? null,
        tpotSeconds: tpot?.mean ?? null,
        lora: slots === null ? null : loraSlots(slots > 0 ? Math.round(slots) : null),
        blockSize: null,
      },
      state: nextState(this.engine, { ttft, tpot }),
    };
  }
}
