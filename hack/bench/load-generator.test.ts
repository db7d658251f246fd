import { schedule } from './load-generator';
import { holds } from './max-throughput';
import type { LoadResult } from './load-common';
import { summarize } from './stats';

describe('schedule (open-loop send times)', () => {
  it.each([
    { rate: 100, warmupSec: 0, durationSec: 1, measured: 100 },
    { rate: 1000, warmupSec: 2, durationSec: 3, measured: 3000 },
    { rate: 250, warmupSec: 1, durationSec: 0.1, measured: 25 },
  ])('rate $rate, warm-up $warmupSec s, $durationSec s measured', ({ rate, warmupSec, durationSec, measured }) => {
    const due = schedule(rate, warmupSec, durationSec);
    const warm = due.length - measured;
    // The ramp sends fewer than rate × warm-up requests, but more than the 10% it starts at.
    expect(warm).toBeLessThanOrEqual(rate * warmupSec);
    expect(warm).toBeGreaterThanOrEqual(Math.floor(rate * warmupSec * 0.55));
    for (let i = 1; i < due.length; i++) expect(due[i]!).toBeGreaterThan(due[i - 1]!);
    // The measured phase starts right after the warm-up and is exactly 1/rate apart.
    expect(due[warm]).toBe(warmupSec * 1000);
    expect(due[due.length - 1]! - due[warm]!).toBeCloseTo(((measured - 1) * 1000) / rate, 6);
  });
});

describe('holds (max-throughput pass rule)', () => {
  const result = (over: Partial<LoadResult>): LoadResult => ({
    rate: 1000, concurrency: 0, durationSec: 1, scheduled: 1000, scheduledTotal: 1000, ok: 1000, errors: { status: {}, connection: 0, timeout: 0, overload: 0, badBody: 0 },
    errorCount: 0, achievedRate: 1000, successPct: 100, latencyMs: summarize([1, 2, 3]), serviceMs: summarize([1]), sendLagMs: summarize([]),
    peakOutstanding: 1, cpuSec: 0, cpuTotalSec: 0, elapsedSec: 1, connectionsUsed: 1, timeline: [], ...over,
  });
  it.each([
    { name: 'clean run at the offered rate', r: result({}), maxP99: null, want: true },
    { name: 'one error fails', r: result({ errorCount: 1 }), maxP99: null, want: false },
    { name: 'achieved 95% passes', r: result({ achievedRate: 950 }), maxP99: null, want: true },
    { name: 'achieved 94% fails', r: result({ achievedRate: 940 }), maxP99: null, want: false },
    { name: 'closed loop ignores the offered rate', r: result({ rate: 0, concurrency: 64, achievedRate: 5000 }), maxP99: null, want: true },
    { name: 'p99 above the bound fails', r: result({}), maxP99: 2, want: false },
    { name: 'p99 within the bound passes', r: result({}), maxP99: 3, want: true },
  ])('$name', ({ r, maxP99, want }) => {
    expect(holds(r, maxP99)).toBe(want);
  });
});
