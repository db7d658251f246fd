/**
 * Overhead mode: what Sluice adds on top of talking to the engine directly.
 *
 * In one run, for every offered rate it sends the same small non-streaming /v1/completions
 * (max_tokens 1) straight to the simulated engine and through Sluice (operator + data plane),
 * and compares latency percentiles; the path order alternates per rate so slow drift of the
 * machine hits both alike. Then it measures each path's max throughput (max-throughput.ts) and
 * checks the targets. Every process runs separately (engine simulator, data plane(s),
 * operator, one load-generator child per measurement) and CPU use of each is recorded, because
 * on a small machine they all compete for the same cores.
 */
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runLoadInChild, type LoadConfig, type LoadResult } from './load-generator';
import { maxThroughput, type MaxMethod, type MaxThroughput, type Measure } from './max-throughput';
import { DIST, machineCpuSec, processCpuSec, sleep, stopAll } from './processes';
import { checkPath, DEFAULT_ENGINE, startStack, type DataplaneHandle, type EngineSettings, type Stack } from './stack';
import { round } from './stats';

/**
 * Which way requests go: straight to the engine, or through a data plane with/without access log
 * (this mode); through a data plane to an ExternalModelProvider or to a ModelServer pod (external.ts).
 */
export type PathName = 'direct' | 'sluice' | 'sluice-no-access-log' | 'sluice-external' | 'sluice-pod';

/** Settings of an overhead run. */
export interface OverheadOptions {
  /** Offered rates (req/s) of the latency comparison. */
  rates: number[];
  /** Measured seconds per rate and path. */
  durationSec: number;
  /** Unmeasured seconds before each measurement. */
  warmupSec: number;
  /** Data planes to measure: the production default (access log on), off, or both. */
  accessLog: 'on' | 'off' | 'both';
  /** How max throughput is found: closed loop (default) or open-loop rate stepping; null skips it. */
  maxMethod: MaxMethod | null;
  /** Open-loop method: offered rates to step through, ascending. */
  maxRates: number[];
  /** Closed-loop method: client counts to try per path. */
  maxConcurrency: number[];
  /** Measured seconds per max-throughput run. */
  maxDurationSec: number;
  /** Extra pass condition for max-throughput runs: p99 latency at most this (ms); null for none. */
  maxP99Ms: number | null;
  /** Unmeasured seconds of ramped load on every path before the first measurement (JIT warm-up). */
  primeSec: number;
  /** Client pool connections. */
  connections: number;
  /** Most requests in flight per load generator. */
  maxOutstanding: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** Engine settings (address, model, simulator profile). */
  engine: EngineSettings;
  /** Extra node flags for the data planes, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR]. */
  dataplaneNodeArgs: string[];
  /** Keep the working folder (logs, snapshot) instead of deleting it. */
  keepDir: boolean;
  /** Progress lines go here (stderr by default). */
  progress: (line: string) => void;
}

/** Defaults: a default run takes about three minutes (four and a half with --access-log both). */
export const DEFAULT_OVERHEAD: Omit<OverheadOptions, 'progress'> = {
  rates: [100, 250, 500, 1000, 2000],
  durationSec: 10,
  warmupSec: 2,
  accessLog: 'on',
  maxMethod: 'closed',
  maxRates: [1000, 2000, 4000, 8000, 16000],
  maxConcurrency: [16, 64, 256],
  maxDurationSec: 4,
  maxP99Ms: null,
  primeSec: 4,
  connections: 256,
  maxOutstanding: 1000,
  timeoutMs: 10_000,
  engine: DEFAULT_ENGINE,
  dataplaneNodeArgs: [],
  keepDir: false,
};

/** The request every path sends: tiny prompt, one output token, so the engine's work is minimal. */
export function requestBody(model: string): string {
  return JSON.stringify({ model, prompt: 'Say hi', max_tokens: 1 });
}

/** CPU the processes used during one measurement's measured phase (warm-up excluded). */
export interface CpuUse {
  /** Data plane CPU µs per request (0 on the direct path, NaN without /proc). */
  dataplaneUsPerReq: number;
  /** Engine simulator CPU µs per request. */
  engineUsPerReq: number;
  /** Load generator CPU µs per request. */
  loadgenUsPerReq: number;
  /** CPU used by processes outside the benchmark, as % of the whole machine: noise indicator. */
  otherCpuPct: number;
  /** Whole machine CPU in use during the measured phase, % of all cores (100 = saturated). */
  machinePct: number;
  /** Average cores busy during the run (CPU s ÷ wall s): 1.0 means a single-threaded process saturated. */
  cores: { dataplane: number; engine: number; loadgen: number };
}

/** One measurement: a path at a rate. */
export interface PathRun {
  path: PathName;
  load: LoadResult;
  cpu: CpuUse;
}

/** Through-Sluice minus direct at the same rate. */
export interface Added {
  path: PathName;
  /** Added latency at p50 / p99, ms (through − direct, percentile by percentile). */
  p50: number;
  p99: number;
  /** through ÷ direct at p50 / p99. */
  ratioP50: number;
  ratioP99: number;
}

/** Every path at one offered rate. */
export interface RateRow {
  rate: number;
  runs: PathRun[];
  added: Added[];
}

/** A target from the issue and whether this run met it. */
export interface TargetCheck {
  name: string;
  limit: string;
  measured: string;
  met: boolean | null;
}

/** The machine a run ran on, and how busy it was before the run started. */
export interface BenchMachine {
  cpus: number;
  cpuModel: string;
  node: string;
  kernel: string;
  loadavgAtStart: number[];
  busyPctAtStart: number;
}

/** Everything an overhead run produced. */
export interface OverheadResult {
  mode: 'overhead';
  startedAt: string;
  totalSec: number;
  machine: BenchMachine;
  /** Which data-plane build was measured: the tree is uncommitted while issues are in flight. */
  build: { dataplaneDistSha256: string; newestDataplaneFile: string };
  settings: Omit<OverheadOptions, 'progress'> & { requestBody: string };
  rows: RateRow[];
  max: MaxThroughput[];
  targets: TargetCheck[];
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall back to what Node knows
  }
  return cpus()[0]?.model ?? 'unknown';
}

/**
 * Fingerprint of dist/dataplane (sha256 over every .js file, by path): results are only
 * comparable between runs of the same build, and the working tree may have no commit to name.
 */
export function dataplaneBuild(): OverheadResult['build'] {
  const hash = createHash('sha256');
  let newest = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith('.js')) {
        hash.update(path.slice(DIST.length)).update(readFileSync(path));
        newest = Math.max(newest, st.mtimeMs);
      }
    }
  };
  try {
    walk(join(DIST, 'dataplane'));
  } catch {
    return { dataplaneDistSha256: 'unknown', newestDataplaneFile: 'unknown' };
  }
  return { dataplaneDistSha256: hash.digest('hex').slice(0, 16), newestDataplaneFile: new Date(newest).toISOString() };
}

/** Percent of the whole machine's CPU in use over `ms` (before anything of ours runs). */
async function machineBusyPct(ms: number): Promise<number> {
  const before = machineCpuSec();
  await sleep(ms);
  return round((100 * (machineCpuSec() - before)) / ((ms / 1000) * availableParallelism()), 1);
}

/**
 * Describes the machine, sampling for two seconds how busy it is, and warns through `progress`
 * when other processes already use more than 10% of it (the results will be noisy).
 */
export async function benchMachine(progress: (line: string) => void): Promise<BenchMachine> {
  const m = { cpus: availableParallelism(), cpuModel: cpuModel(), node: process.version, kernel: release(), loadavgAtStart: loadavg().map((v) => round(v, 2)), busyPctAtStart: await machineBusyPct(2_000) };
  if (m.busyPctAtStart > 10) {
    progress(`warning: other processes use ${m.busyPctAtStart}% of the machine's CPU before the benchmark starts; results will be noisy (see the "other CPU %" column)`);
  }
  return m;
}

/** Where a measurement sends its load: an origin, and the data plane on the way (none when direct). */
export interface Target {
  origin: string;
  dataplane?: DataplaneHandle;
}

/** The overhead mode's target of `path`: the engine, or the data plane with or without access log. */
export function overheadTarget(stack: Stack, path: PathName): Target {
  const dp = path === 'direct' ? undefined : stack.dataplanes.find((d) => d.accessLog === (path === 'sluice'));
  return dp ? { origin: dp.url, dataplane: dp } : { origin: stack.engineUrl };
}

/**
 * Runs one load against one path, with CPU accounting over its measured phase: every process is
 * sampled when the load generator announces the measured phase and again when it has finished.
 */
export async function measure(stack: Stack, path: PathName, cfg: Omit<LoadConfig, 'origin'>, target: Target = overheadTarget(stack, path)): Promise<PathRun> {
  const { origin, dataplane: dp } = target;
  const pids = [stack.engine.child.pid, stack.operator.child.pid, ...stack.dataplanes.map((d) => d.proc.child.pid)];
  const sample = () => ({ procs: pids.map(processCpuSec), machine: machineCpuSec(), self: process.cpuUsage(), wall: Date.now() });
  let before = sample();
  const load = await runLoadInChild({ ...cfg, origin }, () => { before = sample(); });
  const after = sample();
  const wallSec = (after.wall - before.wall) / 1000;
  const selfUsage = process.cpuUsage(before.self);
  const deltas = pids.map((_, i) => after.procs[i]! - before.procs[i]!);
  const machine = after.machine - before.machine;
  const sent = Math.max(1, load.scheduled);
  const dpIndex = dp ? 2 + stack.dataplanes.indexOf(dp) : -1;
  const ours = deltas.reduce((a, b) => a + b, 0) + load.cpuSec + (selfUsage.user + selfUsage.system) / 1e6;
  return {
    path,
    load,
    cpu: {
      dataplaneUsPerReq: dpIndex < 0 ? 0 : round((deltas[dpIndex]! / sent) * 1e6, 1),
      engineUsPerReq: round((deltas[0]! / sent) * 1e6, 1),
      loadgenUsPerReq: round((load.cpuSec / sent) * 1e6, 1),
      // /proc ticks are 10 ms, so small negatives are rounding; clamp them.
      otherCpuPct: round(Math.max(0, (100 * (machine - ours)) / (wallSec * availableParallelism())), 1),
      machinePct: round((100 * machine) / (wallSec * availableParallelism()), 1),
      cores: { dataplane: dpIndex < 0 ? 0 : round(deltas[dpIndex]! / wallSec, 2), engine: round(deltas[0]! / wallSec, 2), loadgen: round(load.cpuSec / wallSec, 2) },
    },
  };
}

/** Compares a through-Sluice run with the direct run at the same rate. */
export function addedLatency(direct: LoadResult, through: PathRun): Added {
  const d = direct.latencyMs;
  const t = through.load.latencyMs;
  return { path: through.path, p50: t.p50 - d.p50, p99: t.p99 - d.p99, ratioP50: t.p50 / d.p50, ratioP99: t.p99 / d.p99 };
}

/** Checks the targets: added p50 ≤ 1 ms and p99 ≤ 3 ms at 500 req/s; ≥ 50% of direct throughput. */
export function checkTargets(rows: RateRow[], max: MaxThroughput[]): TargetCheck[] {
  const at500 = rows.find((r) => r.rate === 500)?.added.find((a) => a.path === 'sluice');
  const thr = max.find((m) => m.path === 'sluice');
  const direct = max.find((m) => m.path === 'direct');
  const fmt = (v: number | undefined, unit: string) => (v === undefined || Number.isNaN(v) ? 'not measured' : `${v.toFixed(3)} ${unit}`);
  return [
    { name: 'added p50 latency at 500 req/s (access log on)', limit: '≤ 1 ms', measured: fmt(at500?.p50, 'ms'), met: at500 ? at500.p50 <= 1 : null },
    { name: 'added p99 latency at 500 req/s (access log on)', limit: '≤ 3 ms', measured: fmt(at500?.p99, 'ms'), met: at500 ? at500.p99 <= 3 : null },
    { name: 'through-Sluice max throughput vs direct (access log on)', limit: '≥ 50%', measured: thr && !Number.isNaN(thr.pctOfDirect) ? `${thr.pctOfDirect}% (${thr.maxRate} vs ${direct?.maxRate} req/s)` : 'not measured', met: thr && !Number.isNaN(thr.pctOfDirect) ? thr.pctOfDirect >= 50 : null },
  ];
}

/** The settings measurePaths reads: every field of a run but what is started and where. */
export type PathsOptions = Pick<OverheadOptions, 'rates' | 'durationSec' | 'warmupSec' | 'maxMethod' | 'maxRates' | 'maxConcurrency' | 'maxDurationSec' | 'maxP99Ms' | 'primeSec' | 'connections' | 'maxOutstanding' | 'timeoutMs' | 'progress'>;

/**
 * The measuring every path-comparing mode shares, once its processes run: primes every path, then
 * measures each at every rate (the order alternating per rate, so neither path always runs right
 * after the same neighbour), then finds each path's max throughput. `paths[0]` is the baseline
 * the others are compared with; `body` is what `measure` sends unless it puts its own.
 */
export async function measurePaths(measureRun: Measure, paths: PathName[], body: string, o: PathsOptions): Promise<{ rows: RateRow[]; max: MaxThroughput[] }> {
  const { progress } = o;
  const base = { path: '/v1/completions', body, warmupSec: o.warmupSec, connections: o.connections, maxOutstanding: o.maxOutstanding, timeoutMs: o.timeoutMs };
  // A long-running router is JIT-warm; a fresh one is several times slower for its first few
  // thousand requests, which would land in the first measurements.
  if (o.primeSec > 0) {
    progress(`priming every path for ${o.primeSec} s (ramp to 1000 req/s, not measured)`);
    for (const p of paths) await measureRun(p, { ...base, rate: 1000, warmupSec: o.primeSec, durationSec: 0.1 });
  }
  const rows: RateRow[] = [];
  for (const [i, rate] of o.rates.entries()) {
    const row: RateRow = { rate, runs: [], added: [] };
    const order = i % 2 === 0 ? paths : [...paths].reverse();
    for (const p of order) {
      const run = await measureRun(p, { ...base, rate, durationSec: o.durationSec });
      row.runs.push(run);
      const l = run.load.latencyMs;
      progress(`  ${String(rate).padStart(6)} req/s ${p.padEnd(21)} achieved ${run.load.achievedRate.toFixed(0).padStart(6)}  ok ${run.load.successPct.toFixed(2)}%  p50 ${l.p50.toFixed(3)}  p99 ${l.p99.toFixed(3)}  max ${l.max.toFixed(2)} ms  dp ${run.cpu.dataplaneUsPerReq} µs/req  other cpu ${run.cpu.otherCpuPct}%`);
      await sleep(500);
    }
    row.runs.sort((a, b) => paths.indexOf(a.path) - paths.indexOf(b.path));
    const baseline = row.runs.find((r) => r.path === paths[0])!.load;
    row.added = row.runs.filter((r) => r.path !== paths[0]).map((r) => addedLatency(baseline, r));
    rows.push(row);
  }
  let max: MaxThroughput[] = [];
  if (o.maxMethod) {
    progress(o.maxMethod === 'closed' ? `max throughput: closed loop with ${o.maxConcurrency.join(', ')} clients per path` : 'max throughput: stepping the offered rate up per path');
    max = await maxThroughput(measureRun, paths, { method: o.maxMethod, rates: o.maxRates, concurrencies: o.maxConcurrency, maxP99Ms: o.maxP99Ms },
      { ...base, durationSec: o.maxDurationSec }, progress);
  }
  return { rows, max };
}

/**
 * Runs `work` in a fresh working folder (`<tmp>/<prefix>XXXXXX`) and then, whatever happens, stops
 * every process processes.ts started and removes the folder, unless `keepDir`.
 */
export async function inWorkDir<T>(prefix: string, o: { keepDir: boolean; progress: (line: string) => void }, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  o.progress(`working folder ${dir}`);
  try {
    return await work(dir);
  } finally {
    // Every process of a stack is started by startNode, so this stops them all.
    await stopAll();
    if (!o.keepDir) rmSync(dir, { recursive: true, force: true });
    else o.progress(`logs kept in ${dir}`);
  }
}

/** Runs the whole overhead benchmark. Always stops the processes it started. */
export async function runOverhead(opts: OverheadOptions): Promise<OverheadResult> {
  const t0 = Date.now();
  const accessLogs = opts.accessLog === 'both' ? [true, false] : [opts.accessLog === 'on'];
  const paths: PathName[] = ['direct', ...accessLogs.map((on): PathName => (on ? 'sluice' : 'sluice-no-access-log'))];
  const body = requestBody(opts.engine.model);
  const { progress, ...settings } = opts;
  const result: OverheadResult = {
    mode: 'overhead',
    startedAt: new Date(t0).toISOString(),
    totalSec: 0,
    machine: await benchMachine(progress),
    build: dataplaneBuild(),
    settings: { ...settings, requestBody: body },
    rows: [],
    max: [],
    targets: [],
  };
  await inWorkDir('sluice-bench-', opts, async (dir) => {
    const stack = await startStack({ dir, engine: opts.engine, accessLogs, dataplaneNodeArgs: opts.dataplaneNodeArgs });
    await checkPath(stack.engineUrl, '/v1/completions', body, 'bench-0');
    for (const d of stack.dataplanes) await checkPath(d.url, '/v1/completions', body, 'bench-0');
    Object.assign(result, await measurePaths((p, cfg) => measure(stack, p, cfg), paths, body, opts));
    result.targets = checkTargets(result.rows, result.max);
  });
  result.totalSec = round((Date.now() - t0) / 1000, 1);
  return result;
}
