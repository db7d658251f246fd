/**
 * Latency statistics for the benchmark. Samples are kept whole (a Float64Array of every
 * latency) rather than in an HDR histogram: a run holds at most a few hundred thousand samples,
 * sorting that takes milliseconds, and exact percentiles make small differences between two
 * paths (the router's added latency) trustworthy down to the microsecond.
 */

/** Percentiles and extremes of one set of latencies, in milliseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The p-th percentile (0 ≤ p ≤ 100) of values sorted ascending, by the nearest-rank method:
 * the smallest value such that at least p% of the values are ≤ it. Nearest rank (rather than
 * interpolation) always returns a latency that was actually observed, which is what a reader
 * of "p99 = 3.2 ms" assumes. Returns NaN for an empty input.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const n = sorted.length;
  if (n === 0) return NaN;
  // The epsilon keeps p = 99 of 100 values at rank 99 despite 99/100*100 = 98.99999… in floats.
  const rank = Math.ceil((p / 100) * n - 1e-9);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/**
 * Sorts a copy of `values` (the caller's order is kept, e.g. for time series) and summarises it.
 * Every field is NaN when there are no values, so an empty run can't pass for a fast one.
 */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    min: n ? sorted[0]! : NaN,
    mean: n ? sum / n : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: n ? sorted[n - 1]! : NaN,
  };
}

/** Rounds to `digits` decimals for reports; NaN stays NaN (rendered as "–" by the report). */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
