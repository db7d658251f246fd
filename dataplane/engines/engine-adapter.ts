/**
 * The interface every engine adapter implements, and the helpers they share: reading gauges
 * across label sets, and turning cumulative histograms into means over the last scrape interval.
 *
 * Interval means. Latency histograms are cumulative (`_sum`, `_count` only grow), so the mean
 * over the lifetime of the engine says little about now. Each read compares the totals with the
 * previous scrape's:
 *
 *   mean = (sum_now - sum_prev) / (count_now - count_prev)        when count grew
 *
 * - first sight of a histogram: no interval yet, so the mean is null (baseline only);
 * - count did not grow (nothing finished a first token / token this interval): the previous mean
 *   is kept for LATENCY_HOLD_MS (30 s) after it was last measured, then drops to null. Holding
 *   it stops a slow endpoint from looking fast for one quiet second; dropping it means a pod
 *   that has served nothing for half a minute is "unknown", which least-latency treats as fast,
 *   so idle pods attract work again;
 * - count or sum went down (engine restarted): the current totals are the delta since restart;
 * - a histogram that vanishes from the body keeps its totals and decays like a quiet one.
 */
import type { InferenceEngine } from '../../shared/api/model-server';
import type { EngineMetrics, LoraState } from './engine-metrics';
import type { Sample } from './prometheus-text';

/** How long an interval mean is kept when no new observation arrives. */
export const LATENCY_HOLD_MS = 30_000;

/** Samples grouped by sample name, as parsePrometheusText returns them. */
export type SampleMap = ReadonlyMap<string, readonly Sample[]>;

/** Totals of one histogram at one scrape, and the interval mean derived from it. */
export interface MeanState {
  /** The histogram read (engines renamed some: a change of name starts a new baseline). */
  readonly metric: string;
  readonly sum: number;
  readonly count: number;
  /** Mean over the last interval with observations; null before one or after the hold. */
  readonly mean: number | null;
  /** When `mean` was last measured (ms since epoch). */
  readonly measuredAt: number;
}

/** Per-endpoint state an adapter carries from one scrape to the next. */
export interface HistogramState {
  /** The engine the state belongs to; state of another engine is ignored. */
  readonly engine: InferenceEngine;
  /** One entry per tracked histogram, keyed by role (`ttft`, `tpot`, `queue`, ...). */
  readonly means: Readonly<Record<string, MeanState>>;
}

/** Result of reading one scrape. */
export interface AdapterResult {
  /**
   * What the body said. `running` is undefined when none of the engine's request gauges was in
   * the body: the scraper then treats the scrape as failed rather than report an empty engine.
   */
  readonly metrics: Partial<EngineMetrics>;
  readonly state: HistogramState;
}

/** Reads one engine's /metrics samples into the common shape. */
export interface EngineAdapter {
  readonly engine: InferenceEngine;
  /** Sample names the adapter reads; the parser skips every other line early. */
  readonly sampleNames: ReadonlySet<string>;
  /**
   * Maps one scrape. `previous` is the state returned by the last read for this endpoint (null
   * on the first); `now` is the scrape's completion time in ms since epoch.
   */
  read(samples: SampleMap, previous: HistogramState | null, now?: number): AdapterResult;
}

/** `_sum` and `_count` of a histogram, summed over its label sets. */
export interface HistogramTotals {
  readonly sum: number;
  readonly count: number;
}

/** Sum of a gauge over every label set (e.g. several `model_name` or DP `engine` values); null if absent. */
export function sumOf(samples: SampleMap, name: string): number | null {
  const list = samples.get(name);
  if (!list || list.length === 0) return null;
  let total = 0;
  let seen = false;
  for (const s of list) {
    if (Number.isFinite(s.value)) {
      total += s.value;
      seen = true;
    }
  }
  return seen ? total : null;
}

/** Mean of a gauge over its label sets (for ratios such as KV usage of DP ranks); null if absent. */
export function meanOf(samples: SampleMap, name: string): number | null {
  const list = samples.get(name);
  if (!list || list.length === 0) return null;
  let total = 0;
  let n = 0;
  for (const s of list) {
    if (Number.isFinite(s.value)) {
      total += s.value;
      n++;
    }
  }
  return n > 0 ? total / n : null;
}

/** The first of `names` present as a gauge, summed; null when none is. */
export function sumOfFirst(samples: SampleMap, names: readonly string[]): number | null {
  for (const name of names) {
    const v = sumOf(samples, name);
    if (v !== null) return v;
  }
  return null;
}

/**
 * `_sum` and `_count` of histogram `base`, summed over label sets, optionally only those whose
 * label `label` equals `value`; null when the histogram is absent.
 */
export function histogramTotals(samples: SampleMap, base: string, label?: string, value?: string): HistogramTotals | null {
  const sums = samples.get(`${base}_sum`);
  const counts = samples.get(`${base}_count`);
  if (!sums || !counts) return null;
  let sum = 0;
  let count = 0;
  let seen = false;
  for (const s of sums) if (label === undefined || s.labels[label] === value) sum += s.value;
  for (const s of counts) {
    if (label === undefined || s.labels[label] === value) {
      count += s.value;
      seen = true;
    }
  }
  return seen && Number.isFinite(sum) && Number.isFinite(count) ? { sum, count } : null;
}

/** The first of `bases` present as a histogram, with its name. */
export function firstHistogram(samples: SampleMap, bases: readonly string[]): { metric: string; totals: HistogramTotals } | null {
  for (const metric of bases) {
    const totals = histogramTotals(samples, metric);
    if (totals) return { metric, totals };
  }
  return null;
}

/** `_sum` and `_count` sample names of each histogram, for an adapter's `sampleNames`. */
export function histogramSampleNames(bases: readonly string[]): string[] {
  const out: string[] = [];
  for (const b of bases) out.push(`${b}_sum`, `${b}_count`);
  return out;
}

/** Advances one histogram's interval mean; see the file comment for the rules. */
export function advanceMean(
  prev: MeanState | undefined,
  metric: string | null,
  totals: HistogramTotals | null,
  now: number,
): MeanState | undefined {
  if (metric === null || totals === null) {
    if (!prev) return undefined;
    return prev.mean !== null && now - prev.measuredAt > LATENCY_HOLD_MS ? { ...prev, mean: null } : prev;
  }
  if (!prev || prev.metric !== metric) {
    // A renamed histogram (engine upgrade) keeps the last mean but needs a new baseline.
    const held = prev && prev.mean !== null && now - prev.measuredAt <= LATENCY_HOLD_MS;
    return { metric, sum: totals.sum, count: totals.count, mean: held ? prev.mean : null, measuredAt: held ? prev.measuredAt : now };
  }
  let dCount = totals.count - prev.count;
  let dSum = totals.sum - prev.sum;
  if (dCount < 0 || dSum < 0) {
    // Counters went backwards: the engine restarted and everything in the body is new.
    dCount = totals.count;
    dSum = totals.sum;
  }
  let mean = prev.mean;
  let measuredAt = prev.measuredAt;
  if (dCount > 0) {
    const m = dSum / dCount;
    if (Number.isFinite(m) && m >= 0) {
      mean = m;
      measuredAt = now;
    }
  } else if (mean !== null && now - measuredAt > LATENCY_HOLD_MS) {
    mean = null;
  }
  return { metric, sum: totals.sum, count: totals.count, mean, measuredAt };
}

/** Builds the next HistogramState from the role → MeanState entries that exist. */
export function nextState(engine: InferenceEngine, entries: Record<string, MeanState | undefined>): HistogramState {
  const means: Record<string, MeanState> = {};
  for (const k in entries) {
    const v = entries[k];
    if (v) means[k] = v;
  }
  return { engine, means };
}

/** The previous state's means, or none when it belongs to another engine. */
export function previousMeans(previous: HistogramState | null, engine: InferenceEngine): Readonly<Record<string, MeanState>> {
  return previous && previous.engine === engine ? previous.means : {};
}

/** Adapter names from a comma-separated label value (vLLM's `running_lora_adapters`). */
export function splitAdapters(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim();
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

/** A positive integer from a label value, else null. */
export function positiveIntLabel(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** An empty LoRA state with a slot count, for engines that report slots but not adapters. */
export function loraSlots(maxLoras: number | null): LoraState {
  return { active: [], waiting: [], maxLoras };
}
