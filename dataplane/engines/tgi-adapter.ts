/**
 * TGI's /metrics → EngineMetrics. Names as TGI's router registers them (router/src/server.rs
 * `describe_*`, recorded in the batcher/queue/infer code) through the Rust `metrics` crate:
 * no label on the request gauges, counters without `_total`, histograms in seconds with
 * `_sum`/`_count`, the batch ones labelled `method="prefill"|"decode"`.
 *
 *   running     = Σ tgi_batch_current_size
 *   waiting     = Σ tgi_queue_size
 *   kvUsage     = 0, always. TGI exports no KV-cache gauge (tgi_batch_current_max_tokens is the
 *                 batch's token budget, not its use, and the total it would be divided by,
 *                 max_batch_total_tokens, is not in /metrics). Reporting 0 makes the KV scorer
 *                 score every TGI endpoint alike (1), so it neither favours nor penalises any
 *                 of them; load still comes through running/waiting and the in-flight count.
 *   ttftSeconds = TGI has no TTFT histogram; estimated as the sum of interval means
 *                   Δ_sum/Δ_count of tgi_request_queue_duration            (required)
 *                 + Δ_sum/Δ_count of tgi_request_validation_duration       (when present)
 *                 + Δ_sum/Δ_count of tgi_batch_inference_duration{method="prefill"} (when present)
 *                 i.e. waiting + tokenising + one prefill pass, what precedes the first token.
 *                 Null when the queue mean is.
 *   tpotSeconds = Δ_sum / Δ_count of tgi_request_mean_time_per_token_duration (a per-request
 *                 mean, recorded when the request finishes, so it lags by one request length)
 *   lora        = null: TGI loads adapters at start (--lora-adapters) and exports nothing about
 *                 them; /v1/models lists only the base model.
 *   blockSize   = null.
 */
import {
  advanceMean,
  histogramSampleNames,
  histogramTotals,
  nextState,
  previousMeans,
  sumOf,
  type AdapterResult,
  type EngineAdapter,
  type HistogramState,
  type SampleMap,
} from './engine-adapter';

const RUNNING = 'tgi_batch_current_size';
const WAITING = 'tgi_queue_size';
const QUEUE = 'tgi_request_queue_duration';
const VALIDATION = 'tgi_request_validation_duration';
const BATCH_INFERENCE = 'tgi_batch_inference_duration';
const TPOT = 'tgi_request_mean_time_per_token_duration';

/** Reads TGI metrics. */
export class TgiAdapter implements EngineAdapter {
  readonly engine = 'TGI' as const;
  readonly sampleNames: ReadonlySet<string> = new Set([
    RUNNING,
    WAITING,
    ...histogramSampleNames([QUEUE, VALIDATION, BATCH_INFERENCE, TPOT]),
  ]);

  read(samples: SampleMap, previous: HistogramState | null, now = Date.now()): AdapterResult {
    const prev = previousMeans(previous, this.engine);
    const running = sumOf(samples, RUNNING);
    const waiting = sumOf(samples, WAITING);
    const queue = advanceMean(prev.queue, QUEUE, histogramTotals(samples, QUEUE), now);
    const validation = advanceMean(prev.validation, VALIDATION, histogramTotals(samples, VALIDATION), now);
    const prefill = advanceMean(prev.prefill, BATCH_INFERENCE, histogramTotals(samples, BATCH_INFERENCE, 'method', 'prefill'), now);
    const tpot = advanceMean(prev.tpot, TPOT, histogramTotals(samples, TPOT), now);
    const queueMean = queue?.mean ?? null;
    const found = running !== null || waiting !== null;
    return {
      metrics: {
        running: found ? (running ?? 0) : undefined,
        waiting: found ? (waiting ?? 0) : undefined,
        kvUsage: 0,
        ttftSeconds: queueMean === null ? null : queueMean + (validation?.mean ?? 0) + (prefill?.mean ?? 0),
        tpotSeconds: tpot?.mean ?? null,
        lora: null,
        blockSize: null,
      },
      state: nextState(this.engine, { queue, validation, prefill, tpot }),
    };
  }
}
