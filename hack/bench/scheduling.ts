/**
 * Scheduling mode (issue 3, item 6): how much the scheduler configuration matters, with the seed's
 * Kthena benchmark rebuilt on simulated engines.
 *
 * Per workload (long or short system prompt) and per row (a scheduler configuration), it starts a
 * fresh stack (sched-stack.ts) — three simulated vLLM pods publishing KV events (one ModelServer,
 * one ModelRoute), N data-plane replicas (1 by default) and the directory-source operator pushing
 * to all of them, with the row's Kthena ConfigMap in the watched folder — so no row inherits warm
 * KV caches, a learnt prefix index, event subscriptions or JIT state from another. It checks that
 * every data plane runs exactly the row's configuration (GET /debug/config_dump/scheduler) and has
 * fresh metrics of every pod, warms the paths with a few unrelated requests, then runs the
 * generated-shared-prefix workload with the bench_serving-like client (gsp-client.ts), spread
 * round-robin over the data planes, and reads every pod's /metrics (prefix cache hits and queries,
 * preemptions) and /sim/state (whether the time scale held).
 *
 * The engines tokenize with a real tokenizer (Qwen3's by default, sched-kv-events.ts), and the
 * prompts are built from words that are one token each under it (gsp-vocabulary.ts), so prompt
 * lengths stay exact and every row pays the same tokenizer cost in the simulator.
 *
 * All latencies and throughputs are in simulated time: the client measures wall time and
 * multiplies by the time scale. The data plane's metric scrape interval is scaled too
 * (1 s simulated, Kthena's metrics refresh period), so metric-driven scorers see metrics exactly
 * as stale as Kthena's would.
 */
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateWorkload, poissonArrivals, WORKLOADS, type GspSpec, type Vocabulary, type WorkloadName } from './gsp-workload';
import { runGspClientInChild, type GspClientResult } from './gsp-client';
import { buildVocabulary, checkPromptTokens } from './gsp-vocabulary';
import { dataplaneBuild } from './overhead';
import { machineCpuSplit, processCpuSec, sleep, stopAll } from './processes';
import { usesKvEvents, type SchedRow } from './sched-rows';
import { defaultTokenizerDir, describeTokenizer } from './sched-kv-events';
import { checkSchedulerConfig, kvSubscriptions, podStats, primePods, startRowStack, waitForFreshMetrics, waitForLiveKvEvents, warmUp, type PodStats, type StackOptions } from './sched-stack';
import { kvCapacity, KV_DERIVATION, schedulingProfile } from './sched-engine';
import { percentile, round } from './stats';
import type { EngineProfile } from '../engine-sim/profile';

export type { PodStats } from './sched-stack';

/** Settings of a scheduling run. */
export interface SchedulingOptions extends StackOptions {
  workloads: WorkloadName[];
  /** Overrides of the seed's 256 groups × 32 requests (for quick runs). */
  groups: number;
  perGroup: number;
  /** Offered rate, requests per simulated second. */
  rate: number;
  /** Most requests in flight. */
  concurrency: number;
  /** Simulated ms per wall ms, per workload. */
  timeScale: Record<WorkloadName, number>;
  rows: SchedRow[];
  /** Device memory of each simulated replica (sizes the KV cache). */
  gpuGiB: number;
  /** Overrides of the derived engine profile (sensitivity runs). */
  profileOverrides: Partial<EngineProfile>;
  /** Before each row, wait until other processes use at most this % of the machine... */
  idleBusyPct: number;
  /** ...for at most this many seconds (then run anyway and report it). */
  idleWaitSec: number;
  /** Run a row again (once) when other processes at normal priority took more than this % of the machine during it. */
  noisyPct: number;
  keepDir: boolean;
  progress: (line: string) => void;
}

export const DEFAULT_SCHEDULING: Omit<SchedulingOptions, 'progress' | 'rows'> = {
  workloads: ['long', 'short'],
  groups: 256,
  perGroup: 32,
  rate: 800,
  concurrency: 300,
  // A decode step is ~34 simulated ms in the long workload and ~16 in the short one: ~7 and ~3 wall
  // ms, above Node's 1 ms timer granularity (the simulator also absorbs timer lateness). A larger
  // scale runs faster but multiplies every wall-clock hiccup of this 2-core machine (a 20 ms stall
  // of the simulator's event loop is 100 simulated ms at scale 5).
  timeScale: { long: 5, short: 5 },
  gpuGiB: KV_DERIVATION.deviceGiB,
  profileOverrides: {},
  // Kthena refreshes pod metrics every 1 s.
  scrapeIntervalSimMs: 1000,
  dataplanes: 1,
  simTokenizer: { kind: 'hf', dir: defaultTokenizerDir() },
  idleBusyPct: 15,
  idleWaitSec: 180,
  noisyPct: 15,
  podIps: ['127.0.0.71', '127.0.0.72', '127.0.0.73'],
  podPort: 8000,
  model: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B',
  keepDir: false,
  simNodeArgs: [],
  dataplaneNodeArgs: [],
};

/** One row of one workload. */
export interface RowResult {
  workload: WorkloadName;
  row: string;
  label: string;
  requests: number;
  ok: number;
  successPct: number;
  /** Completed requests per simulated second (first send → last answer). */
  throughput: number;
  meanLatencySec: number;
  p99LatencySec: number;
  meanTtftSec: number;
  p50TtftSec: number;
  p99TtftSec: number;
  /** The engines' own mean TTFT (simulated, exact by the cost model): agreement check. */
  engineMeanTtftSec: number;
  /**
   * Mean TTFT without the first `concurrency` requests, which all start at once on cold caches
   * (a burst of 300 × 4.2k prompt tokens takes the replicas tens of simulated seconds to prefill).
   */
  steadyMeanTtftSec: number;
  /** Prefix-cache hit rate over all pods, % of prompt tokens. */
  hitRatePct: number;
  pods: PodStats[];
  /** Mean number of pods a group's requests went to (1 = perfect affinity). */
  podsPerGroup: number;
  /** Data-plane replicas the requests were spread over. */
  dataplanes: number;
  /**
   * Requests whose prompt the engine counted as other than system + question tokens (its
   * usage.prompt_tokens): 0 unless the engine's tokenizer and the workload's vocabulary disagree.
   */
  promptTokenMismatches: number;
  /**
   * KV events the data planes took in during the row, summed over the replicas (subscriptions =
   * replicas × pods, `live` of them at the end), or null when the row's scheduler reads none.
   */
  kvEvents: { subscriptions: number; live: number; batches: number; events: number; gaps: number; replays: number } | null;
  durationSimSec: number;
  durationWallSec: number;
  errors: Record<string, number>;
  firstError?: string;
  /**
   * CPU during the run: cores per process (`dataplane` summed over the replicas, `dataplaneEach`
   * per replica), whole machine %, and other processes' % (noise), with the part of it at nice > 0
   * (which yields to the benchmark) separately.
   */
  cpu: { dataplane: number; dataplaneEach: number[]; engine: number; client: number; machinePct: number; otherCpuPct: number; otherNicePct: number };
  /** Machine state before the row: CPU busy % (all, and niced processes), load average, wait. */
  before: { busyPct: number; nicePct: number; loadavg: number[]; waitedSec: number };
  /** The client's largest arrival-timer lateness (wall ms). */
  clientMaxLagWallMs: number;
  /** 1, or 2 when the first attempt was too noisy and the row was run again (this is the second). */
  attempt: number;
  /** The noisy first attempt's other-CPU % (normal priority), when there was one. */
  discardedOtherCpuPct?: number;
}

/** Everything a scheduling run produced. */
export interface SchedulingResult {
  mode: 'scheduling';
  startedAt: string;
  totalSec: number;
  machine: { cpus: number; node: string; kernel: string };
  build: { dataplaneDistSha256: string; newestDataplaneFile: string };
  settings: Omit<SchedulingOptions, 'progress' | 'rows' | 'simTokenizer'> & { rows: string[]; simTokenizer: string };
  engine: { profile: Partial<EngineProfile>; kv: { kvGiB: number; tokens: number; blocks: number } };
  workloads: Record<string, GspSpec>;
  /** Words per token and separator cost under the real tokenizer; absent with the stand-in. */
  vocabulary?: { words: number; separatorTokens: number };
  rows: RowResult[];
}

/** Percent of the machine's CPU in use over `ms`: all of it, and the niced part. */
async function busyPct(ms: number): Promise<{ all: number; nice: number }> {
  const before = machineCpuSplit();
  await sleep(ms);
  const after = machineCpuSplit();
  const pct = (s: number): number => round((100 * s) / ((ms / 1000) * availableParallelism()), 1);
  return { all: pct(after.busy - before.busy), nice: pct(after.nice - before.nice) };
}

/**
 * Waits (bounded) until processes at normal priority leave the machine idle enough; returns what
 * it saw. Niced work (a background build at nice 19) is reported but not waited for: it yields
 * the CPU to the benchmark's processes.
 */
async function waitForIdle(o: SchedulingOptions): Promise<RowResult['before']> {
  const start = Date.now();
  let pct = await busyPct(2000);
  // Bounded by idleWaitSec.
  while (pct.all - pct.nice > o.idleBusyPct && Date.now() - start < o.idleWaitSec * 1000) {
    o.progress(`  machine ${pct.all}% busy (${pct.nice}% niced); waiting for ≤ ${o.idleBusyPct}% at normal priority`);
    await sleep(3000);
    pct = await busyPct(2000);
  }
  return { busyPct: pct.all, nicePct: pct.nice, loadavg: loadavg().map((v) => round(v, 2)), waitedSec: round((Date.now() - start) / 1000, 1) };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Turns the client's per-request columns and the pods' counters into a row. */
export function summarizeRow(workload: WorkloadName, row: SchedRow, c: GspClientResult, pods: PodStats[], concurrency: number, spec: Pick<GspSpec, 'systemTokens' | 'questionTokens'>, dataplanes: number): Omit<RowResult, 'cpu' | 'before' | 'attempt' | 'kvEvents'> {
  const col = c.columns;
  const okIdx = col.ok.flatMap((v, i) => (v ? [i] : []));
  const ttft = okIdx.map((i) => col.ttftMs[i]! / 1000);
  const lat = okIdx.map((i) => col.latencyMs[i]! / 1000);
  const sortedTtft = Float64Array.from(ttft).sort();
  const sortedLat = Float64Array.from(lat).sort();
  const groupPods = new Map<number, Set<number>>();
  for (const i of okIdx) {
    let s = groupPods.get(col.group[i]!);
    if (!s) groupPods.set(col.group[i]!, (s = new Set()));
    s.add(col.pod[i]!);
  }
  const hits = pods.reduce((a, p) => a + p.hits, 0);
  const queries = pods.reduce((a, p) => a + p.queries, 0);
  return {
    workload, row: row.name, label: row.label,
    requests: c.requests, ok: c.ok, successPct: round((100 * c.ok) / c.requests, 2),
    throughput: round(c.ok / c.durationSimSec, 3),
    meanLatencySec: round(mean(lat), 3), p99LatencySec: round(percentile(sortedLat, 99), 3),
    meanTtftSec: round(mean(ttft), 3), p50TtftSec: round(percentile(sortedTtft, 50), 3), p99TtftSec: round(percentile(sortedTtft, 99), 3),
    engineMeanTtftSec: round(mean(okIdx.map((i) => col.engineTtftMs[i]! / 1000)), 3),
    // Requests are sent in index order; the first `concurrency` go out together into cold caches.
    steadyMeanTtftSec: round(mean(okIdx.filter((i) => i >= concurrency).map((i) => col.ttftMs[i]! / 1000)), 3),
    hitRatePct: round(queries ? (100 * hits) / queries : NaN, 1),
    pods,
    podsPerGroup: round(mean([...groupPods.values()].map((s) => s.size)), 2),
    dataplanes,
    // An engine that sent no usage.prompt_tokens (NaN) is not counted as a mismatch.
    promptTokenMismatches: okIdx.filter((i) => col.promptTokens[i]! !== spec.systemTokens + spec.questionTokens && !Number.isNaN(col.promptTokens[i])).length,
    durationSimSec: round(c.durationSimSec, 1), durationWallSec: round(c.durationWallSec, 1),
    errors: c.errors, ...(c.firstError ? { firstError: c.firstError } : {}),
    clientMaxLagWallMs: c.maxArrivalLagWallMs,
  };
}

/** Sums the KV-event subscriptions of every data plane. */
async function kvEventTotals(adminUrls: string[]): Promise<NonNullable<RowResult['kvEvents']>> {
  const subs = (await Promise.all(adminUrls.map(kvSubscriptions))).flat();
  const sum = (k: string): number => subs.reduce((a, x) => a + (x.counters[k] ?? 0), 0);
  return { subscriptions: subs.length, live: subs.filter((x) => x.state === 'live').length, batches: sum('batches'), events: sum('events'), gaps: sum('gaps'), replays: sum('replays') };
}

/** Runs one row: fresh stack, checks, workload, counters. Always stops its processes. */
async function runRow(o: SchedulingOptions, root: string, workload: WorkloadName, spec: GspSpec, row: SchedRow, profile: Partial<EngineProfile>, vocabularyFile: string | undefined): Promise<RowResult> {
  const dir = join(root, `${workload}-${row.name}`);
  mkdirSync(dir, { recursive: true });
  const before = await waitForIdle(o);
  const timeScale = o.timeScale[workload];
  const stack = await startRowStack(o, dir, row, timeScale, profile);
  try {
    for (const adminUrl of stack.adminUrls) {
      await checkSchedulerConfig(adminUrl, row);
      await waitForFreshMetrics(adminUrl, o.podIps.length);
    }
    await warmUp(stack.urls, o.model, 2 * stack.urls.length + 4);
    await primePods(o);
    if (usesKvEvents(row)) for (const adminUrl of stack.adminUrls) await waitForLiveKvEvents(adminUrl, o.podIps.length);
    // Order: simulator, data planes, operator.
    const pids = [stack.sim.child.pid, ...stack.dataplanes.map((d) => d.child.pid), stack.operator.child.pid];
    const sample = () => ({ procs: pids.map(processCpuSec), machine: machineCpuSplit(), self: process.cpuUsage(), wall: Date.now() });
    let s0 = sample();
    const n = spec.groups * spec.perGroup;
    // Deadline: generous against the slowest plausible row (5 simulated req/s), at least 10 minutes.
    const deadlineMs = Math.max(600_000, Math.ceil(((n / 5) * 1000) / timeScale));
    const client = await runGspClientInChild({
      origins: stack.urls, model: o.model, spec, rate: o.rate, concurrency: o.concurrency, timeScale,
      requestTimeoutMs: 300_000, deadlineMs, ...(vocabularyFile ? { vocabularyFile } : {}),
    }, () => { s0 = sample(); });
    const s1 = sample();
    const pods = await podStats(o);
    const kvEvents = usesKvEvents(row) ? await kvEventTotals(stack.adminUrls) : null;
    const wallSec = (s1.wall - s0.wall) / 1000;
    const d = pids.map((_, i) => s1.procs[i]! - s0.procs[i]!);
    const dpEach = d.slice(1, 1 + stack.dataplanes.length).map((x) => round(x / wallSec, 2));
    const self = process.cpuUsage(s0.self);
    const machine = s1.machine.busy - s0.machine.busy;
    const niced = s1.machine.nice - s0.machine.nice;
    const ours = d.reduce((a, b) => a + b, 0) + client.cpuSec + (self.user + self.system) / 1e6;
    const cores = availableParallelism();
    return {
      ...summarizeRow(workload, row, client, pods, o.concurrency, spec, stack.dataplanes.length),
      kvEvents,
      cpu: {
        dataplane: round(d.slice(1, 1 + stack.dataplanes.length).reduce((a, b) => a + b, 0) / wallSec, 2), dataplaneEach: dpEach,
        engine: round(d[0]! / wallSec, 2), client: round(client.cpuSec / wallSec, 2),
        machinePct: round((100 * machine) / (wallSec * cores), 1),
        otherCpuPct: round(Math.max(0, (100 * (machine - ours)) / (wallSec * cores)), 1),
        otherNicePct: round((100 * niced) / (wallSec * cores), 1),
      },
      before,
      attempt: 1,
    };
  } finally {
    await stack.stop();
  }
}

/** Other processes' CPU at normal priority during a row, % of the machine. */
export function foreignPct(r: Pick<RowResult, 'cpu'>): number {
  return Math.max(0, r.cpu.otherCpuPct - r.cpu.otherNicePct);
}

/**
 * Under a real tokenizer: builds the workload vocabulary, checks a few prompts of each workload
 * have exactly their token counts, and writes the vocabulary for the client. Undefined for the
 * stand-in (random letters are one stand-in token each).
 */
async function prepareVocabulary(o: SchedulingOptions, root: string, specs: Record<string, GspSpec>): Promise<{ file: string; vocabulary: Vocabulary } | undefined> {
  if (o.simTokenizer.kind !== 'hf') return undefined;
  const { vocabulary, tokenizer } = await buildVocabulary(o.simTokenizer.dir);
  for (const spec of Object.values(specs)) checkPromptTokens(tokenizer, generateWorkload({ ...spec, groups: 2, perGroup: 2 }, vocabulary));
  const file = join(root, 'vocabulary.json');
  writeFileSync(file, JSON.stringify(vocabulary));
  return { file, vocabulary };
}

/** Runs every workload × row. Always stops the processes it started. */
export async function runScheduling(o: SchedulingOptions): Promise<SchedulingResult> {
  const t0 = Date.now();
  const root = mkdtempSync(join(tmpdir(), 'sluice-sched-'));
  const profile = { ...schedulingProfile(o.gpuGiB), ...o.profileOverrides };
  const { progress, rows, simTokenizer, ...settings } = o;
  const specs: Record<string, GspSpec> = {};
  for (const w of o.workloads) specs[w] = { ...WORKLOADS[w], groups: o.groups, perGroup: o.perGroup };
  const result: SchedulingResult = {
    mode: 'scheduling',
    startedAt: new Date(t0).toISOString(),
    totalSec: 0,
    machine: { cpus: availableParallelism(), node: process.version, kernel: release() },
    build: dataplaneBuild(),
    settings: { ...settings, rows: rows.map((r) => r.name), simTokenizer: describeTokenizer(simTokenizer) },
    engine: { profile, kv: kvCapacity({ ...KV_DERIVATION, deviceGiB: o.gpuGiB }) },
    workloads: specs,
    rows: [],
  };
  progress(`working folder ${root}; KV cache ${result.engine.kv.blocks} blocks × 128 = ${result.engine.kv.tokens} tokens per pod; ${o.dataplanes} data plane(s); tokenizer ${describeTokenizer(simTokenizer)}`);
  try {
    const vocab = await prepareVocabulary(o, root, specs);
    if (vocab) {
      result.vocabulary = { words: vocab.vocabulary.words.length, separatorTokens: vocab.vocabulary.separatorTokens };
      progress(`vocabulary: ${vocab.vocabulary.words.length} single-token words; "\\n\\n" is ${vocab.vocabulary.separatorTokens} token(s)`);
    }
    for (const w of o.workloads) {
      const spec = specs[w]!;
      // Generated once here only to fail fast on a bad spec; the client regenerates it.
      generateWorkload({ ...spec, groups: 1, perGroup: 1 }, vocab?.vocabulary);
      poissonArrivals(1, o.rate, spec.seed);
      for (const row of rows) {
        progress(`${w}: ${row.label} (time scale ${o.timeScale[w]}, ${o.dataplanes} data plane(s))`);
        let r = await runRow(o, root, w, spec, row, profile, vocab?.file);
        if (foreignPct(r) > o.noisyPct) {
          progress(`  other processes took ${foreignPct(r)}% of the machine during the row (limit ${o.noisyPct}%); running it again`);
          const again = await runRow(o, join(root, 'retry'), w, spec, row, profile, vocab?.file);
          r = { ...again, attempt: 2, discardedOtherCpuPct: foreignPct(r) };
        }
        result.rows.push(r);
        progress(`  ok ${r.successPct}%  ${r.throughput.toFixed(2)} req/s  latency ${r.meanLatencySec.toFixed(2)} s  TTFT mean ${r.meanTtftSec.toFixed(3)} s p99 ${r.p99TtftSec.toFixed(2)} s  hit ${r.hitRatePct}%  pods/group ${r.podsPerGroup}  DP cores ${r.cpu.dataplane} (${r.cpu.dataplaneEach.join(' + ')})  prompt-length mismatches ${r.promptTokenMismatches}${r.kvEvents ? `  KV events ${r.kvEvents.events} in ${r.kvEvents.batches} batches, ${r.kvEvents.live}/${r.kvEvents.subscriptions} live, ${r.kvEvents.gaps} gaps` : ''}  (${r.durationWallSec} s wall; other CPU ${r.cpu.otherCpuPct}%, of it niced ${r.cpu.otherNicePct}%; clock resyncs ${r.pods.reduce((a, p) => a + p.clock.resyncs, 0)})`);
      }
    }
  } finally {
    await stopAll();
    if (!o.keepDir) rmSync(root, { recursive: true, force: true });
    else progress(`logs kept in ${root}`);
  }
  result.totalSec = round((Date.now() - t0) / 1000, 1);
  return result;
}
