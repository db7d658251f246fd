/**
 * Max-throughput measurement for the overhead mode, by one of two methods:
 *
 * - closed (default): N clients per path, each sending its next request when its previous
 *   answer ends; the path's throughput is the best error-free req/s over the client counts tried.
 *   The queue can never exceed N, so one hiccup can't snowball into a backlog, and the number
 *   is repeatable.
 * - open: step the offered rate up (open loop) until a step shows errors or achieves < 95% of
 *   the offered rate, then bisect. Closer to real arrivals, but near capacity a router that
 *   falls behind once (GC, a CPU burst from a neighbour) keeps a standing backlog for the rest
 *   of the step, so the result swings between runs.
 */
import type { LoadConfig, LoadResult } from './load-common';
import type { CpuUse, PathName, PathRun } from './overhead';
import { sleep } from './processes';
import { round } from './stats';

/** How max throughput is found. */
export type MaxMethod = 'closed' | 'open';

/** One run of the search. */
export interface MaxStep {
  /** Offered req/s (open) or 0 (closed). */
  rate: number;
  /** Clients (closed) or 0 (open). */
  concurrency: number;
  achievedRate: number;
  errorCount: number;
  p50: number;
  p99: number;
  /** Whether this run counts towards the path's max (see `holds`). */
  pass: boolean;
  cpu: CpuUse;
}

/** The result for one path. */
export interface MaxThroughput {
  path: PathName;
  method: MaxMethod;
  steps: MaxStep[];
  /** closed: best achieved req/s of a passing run; open: highest offered rate held (0 if none). */
  maxRate: number;
  /** maxRate ÷ the direct path's, in percent (NaN for direct itself). */
  pctOfDirect: number;
  /** open: no step failed, so the path may hold more than maxRate. */
  lowerBound: boolean;
}

/** Settings of the search. */
export interface MaxOptions {
  method: MaxMethod;
  /** open: offered rates to step through, ascending. */
  rates: number[];
  /** closed: client counts to try. */
  concurrencies: number[];
  /** Extra pass condition: p99 at most this (ms); null for none. */
  maxP99Ms: number | null;
}

/** Runs one load against one path (overhead.ts's `measure`, passed in to avoid an import cycle). */
export type Measure = (path: PathName, cfg: Omit<LoadConfig, 'origin'>) => Promise<PathRun>;

/**
 * Whether a run counts: no errors, and for the open loop ≥ 95% of the offered rate achieved;
 * with `maxP99Ms`, p99 within it too (otherwise a rate the server only keeps up with by queueing
 * for hundreds of ms still passes).
 */
export function holds(r: LoadResult, maxP99Ms: number | null = null): boolean {
  return r.errorCount === 0 && (r.concurrency > 0 || r.achievedRate >= 0.95 * r.rate) && (maxP99Ms === null || r.latencyMs.p99 <= maxP99Ms);
}

/** Finds each path's max throughput; paths are interleaved per step so machine drift hits all alike. */
export async function maxThroughput(measure: Measure, paths: PathName[], opts: MaxOptions, base: Omit<LoadConfig, 'origin' | 'rate'>, progress: (line: string) => void): Promise<MaxThroughput[]> {
  const out = new Map<PathName, MaxThroughput>(paths.map((p) => [p, { path: p, method: opts.method, steps: [], maxRate: 0, pctOfDirect: NaN, lowerBound: false }]));
  const step = async (p: PathName, rate: number, concurrency: number): Promise<boolean> => {
    const run = await measure(p, { ...base, rate, ...(concurrency ? { concurrency } : {}) });
    const l = run.load;
    const pass = holds(l, opts.maxP99Ms);
    const mt = out.get(p)!;
    mt.steps.push({ rate, concurrency, achievedRate: round(l.achievedRate, 1), errorCount: l.errorCount, p50: round(l.latencyMs.p50), p99: round(l.latencyMs.p99), pass, cpu: run.cpu });
    const value = concurrency ? round(l.achievedRate, 0) : rate;
    if (pass && value > mt.maxRate) mt.maxRate = value;
    const c = run.cpu.cores;
    const load = concurrency ? `${String(concurrency).padStart(4)} clients` : `${String(rate).padStart(6)} req/s`;
    progress(`  max ${p.padEnd(21)} ${load} → ${pass ? 'ok' : 'FAILED'} (achieved ${l.achievedRate.toFixed(0)} req/s, errors ${l.errorCount}, p50 ${l.latencyMs.p50.toFixed(2)} p99 ${l.latencyMs.p99.toFixed(2)} ms; cores dp ${c.dataplane} engine ${c.engine} loadgen ${c.loadgen}; machine ${run.cpu.machinePct}%)`);
    await sleep(500);
    return pass;
  };

  if (opts.method === 'closed') {
    for (const n of opts.concurrencies) for (const p of paths) await step(p, 0, n);
  } else {
    const firstFail = new Map<PathName, number>();
    for (const rate of opts.rates) {
      const active = paths.filter((p) => !firstFail.has(p));
      if (active.length === 0) break;
      for (const p of active) if (!(await step(p, rate, 0))) firstFail.set(p, rate);
    }
    // Bisect between the last pass and the first failure until within 10% (or 250 req/s);
    // at most 4 more steps per path.
    for (const p of paths) {
      let fail = firstFail.get(p);
      if (fail === undefined) out.get(p)!.lowerBound = true;
      for (let i = 0; i < 4 && fail !== undefined; i++) {
        const held = out.get(p)!.maxRate;
        if (fail - held <= Math.max(250, 0.1 * held)) break;
        const mid = Math.round((held + fail) / 2 / 50) * 50;
        if (!(await step(p, mid, 0))) fail = mid;
      }
    }
  }
  const direct = out.get('direct')?.maxRate ?? NaN;
  for (const mt of out.values()) if (mt.path !== 'direct') mt.pctOfDirect = round((100 * mt.maxRate) / direct, 1);
  return [...out.values()];
}
