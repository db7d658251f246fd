/**
 * Scheduler micro-benchmark: time per scheduling decision of the data plane's own Scheduler (from
 * dist, the code the data plane runs), in one process, for every scheduling-benchmark row and the
 * built-in default configuration.
 *
 * Setup: `endpoints` endpoints (100) with varied scraped metrics (running, waiting — some above the
 * least-request filter's limit —, KV usage, TTFT, TPOT) and in-flight counts, built as the
 * scheduler's unit tests build them; prompts of `promptChars` characters (32,000) from 64 groups
 * that share their first 75% (a system prompt) and differ after, as flat strings (what JSON.parse
 * gives the data plane). Before timing, `history` decisions are made and recorded with `served`,
 * so the prefix index holds every group on some endpoints and lookups walk long matches.
 *
 * A decision is timed as the data plane pays it: a new PrefixHashes for the prompt (hashing is lazy
 * and happens inside the prefix scorer) plus Scheduler.schedule. `served` (recording the prompt's
 * blocks after the answer) is timed separately. process.hrtime.bigint() around each call; the
 * first `warmup` decisions of each configuration are not counted (JIT), and timed decisions
 * rotate over the configurations in blocks (see runSchedulerMicro).
 */
import type { Pool } from 'undici';
import { unknownMetrics } from '../../dataplane/engines/engine-metrics';
import { Endpoint } from '../../dataplane/proxy/endpoint-registry';
import { PrefixHashes } from '../../dataplane/scheduler/prefix-hashes';
import { PrefixIndex } from '../../dataplane/scheduler/prefix-index';
import { Scheduler } from '../../dataplane/scheduler/scheduler';
import type { PluginEnv, SchedulingRequest } from '../../dataplane/scheduler/types';
import { defaultSchedulerConfig } from '../../shared/config/scheduler-config-source';
import type { SchedulerConfig } from '../../shared/config/scheduler-config';
import { mulberry32 } from './gsp-workload';
import { ROWS, rowSchedulerConfig } from './sched-rows';
import { cell, table } from './report';
import { round, summarize, type LatencySummary } from './stats';

/** Settings of a micro-benchmark run. */
export interface MicroOptions {
  endpoints: number;
  promptChars: number;
  /** Timed decisions per configuration. */
  decisions: number;
  /** Untimed decisions per configuration before timing (JIT warm-up). */
  warmup: number;
  /** Decisions recorded into the prefix index before warm-up (history). */
  history: number;
  groups: number;
  seed: number;
}

export const DEFAULT_MICRO: MicroOptions = { endpoints: 100, promptChars: 32_000, decisions: 20_000, warmup: 5_000, history: 5_000, groups: 64, seed: 7 };

/** One configuration's timings, µs. */
export interface MicroRow {
  name: string;
  scorers: string;
  decisionUs: LatencySummary;
  servedUs: LatencySummary;
  /** p50 ÷ the random configuration's p50. */
  ratioP50: number;
}

export interface MicroResult {
  mode: 'scheduler-micro';
  settings: MicroOptions;
  node: string;
  rows: MicroRow[];
}

/** Endpoints with varied metrics, like dataplane/scheduler/test-support.ts builds them. */
export function microEndpoints(n: number, rand: () => number): Endpoint[] {
  return Array.from({ length: n }, (_, id) => {
    const ep = new Endpoint(id, `default/pod-${id}`, `http://127.0.0.1:${9000 + id}`, 'vLLM', null as unknown as Pool);
    ep.metrics = {
      ...unknownMetrics(), stale: false, scrapedAt: 1,
      running: Math.floor(rand() * 64), waiting: Math.floor(rand() * 14), kvUsage: rand(),
      ttftSeconds: 0.05 + rand() * 2, tpotSeconds: 0.01 + rand() * 0.09,
    };
    ep.inFlight = Math.floor(rand() * 50);
    return ep;
  });
}

/** `count` flat prompts of `chars` characters in `groups` groups sharing their first 75%. */
export function microPrompts(count: number, chars: number, groups: number, rand: () => number): string[] {
  const words = (len: number): string => {
    let s = '';
    // Bounded by len.
    while (s.length < len) s += ` ${Math.floor(rand() * 36 ** 4).toString(36)}`;
    return s.slice(0, len);
  };
  const shared = Math.floor(chars * 0.75);
  const prefixes = Array.from({ length: groups }, () => words(shared));
  // JSON round trip: a flat string, as JSON.parse gives the data plane (not a rope of two halves).
  return Array.from({ length: count }, (_, i) => JSON.parse(JSON.stringify(prefixes[i % groups]! + words(chars - shared))) as string);
}

function env(seed: number): PluginEnv {
  const indexes = new Map<number, PrefixIndex>();
  return {
    random: mulberry32(seed),
    prefixIndex(blockSize) {
      let idx = indexes.get(blockSize);
      if (!idx) indexes.set(blockSize, (idx = new PrefixIndex(31250)));
      return idx;
    },
  };
}

/** The configurations timed: the built-in default and every benchmark row. */
export function microConfigs(): { name: string; config: SchedulerConfig }[] {
  return [{ name: 'built-in default', config: defaultSchedulerConfig() }, ...ROWS.map((r) => ({ name: r.label, config: rowSchedulerConfig(r) }))];
}

const us = (a: bigint, b: bigint): number => Number(b - a) / 1000;

/** One configuration being timed: its own scheduler, endpoints and prefix index. */
interface Bench {
  name: string;
  scorers: string;
  decide(prompt: string): { req: SchedulingRequest; first: Endpoint };
  served(req: SchedulingRequest, ep: Endpoint): void;
  decision: Float64Array;
  recorded: Float64Array;
  n: number;
}

function makeBench(name: string, config: SchedulerConfig, o: MicroOptions): Bench {
  const rand = mulberry32(o.seed);
  const endpoints = microEndpoints(o.endpoints, rand);
  const scheduler = new Scheduler(config, env(o.seed));
  const profile = config.profiles[0]!;
  return {
    name,
    scorers: profile.scorers.map((s) => `${s.plugin}×${s.weight}`).join(' + ') + (profile.filters.length ? ` (filters: ${profile.filters.join(', ')})` : ''),
    decide(prompt) {
      const req: SchedulingRequest = { model: 'm', lora: null, hashes: new PrefixHashes(prompt) };
      return { req, first: scheduler.schedule(req, endpoints).order[0]! };
    },
    served: (req, ep) => scheduler.served(req, ep),
    decision: new Float64Array(o.decisions),
    recorded: new Float64Array(o.decisions),
    n: 0,
  };
}

/** `count` timed decisions of one configuration, continuing its sequence of prompts. */
function timeBlock(b: Bench, count: number, prompts: string[]): void {
  for (let k = 0; k < count && b.n < b.decision.length; k++) {
    const prompt = prompts[(b.n * 7 + 3) % prompts.length]!;
    const t0 = process.hrtime.bigint();
    const { req, first } = b.decide(prompt);
    const t1 = process.hrtime.bigint();
    b.served(req, first);
    const t2 = process.hrtime.bigint();
    b.decision[b.n] = us(t0, t1);
    b.recorded[b.n] = us(t1, t2);
    b.n++;
  }
}

/**
 * Runs the micro-benchmark. Every configuration first learns its history and warms up (untimed);
 * then timed decisions run in blocks of 500, rotating over the configurations, so JIT state,
 * GC and machine noise fall on all of them alike instead of on whichever runs first.
 */
export function runSchedulerMicro(o: MicroOptions, progress: (line: string) => void): MicroResult {
  const prompts = microPrompts(512, o.promptChars, o.groups, mulberry32(o.seed + 1));
  const benches = microConfigs().map(({ name, config }) => makeBench(name, config, o));
  for (const b of benches) {
    // History: the index learns which endpoints served which groups; then JIT warm-up.
    for (let i = 0; i < o.history + o.warmup; i++) {
      const { req, first } = b.decide(prompts[i % prompts.length]!);
      b.served(req, first);
    }
  }
  // Bounded: every round adds up to 500 decisions per configuration until each has o.decisions.
  while (benches.some((b) => b.n < b.decision.length)) for (const b of benches) timeBlock(b, 500, prompts);
  const r3 = (s: LatencySummary): LatencySummary => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 2)])) as unknown as LatencySummary;
  const rows = benches.map((b) => {
    const r = { name: b.name, scorers: b.scorers, decisionUs: r3(summarize(b.decision)), servedUs: r3(summarize(b.recorded)) };
    progress(`  ${b.name.padEnd(30)} p50 ${r.decisionUs.p50} µs  p99 ${r.decisionUs.p99} µs  max ${r.decisionUs.max} µs`);
    return r;
  });
  const base = rows.find((r) => r.name === 'Random')?.decisionUs.p50 ?? NaN;
  return { mode: 'scheduler-micro', settings: o, node: process.version, rows: rows.map((r) => ({ ...r, ratioP50: round(r.decisionUs.p50 / base, 2) })) };
}

/** Markdown table of a micro-benchmark run. */
export function microMarkdown(r: MicroResult): string {
  const s = r.settings;
  return [
    `${s.endpoints} endpoints, ${s.promptChars}-character prompts (${s.groups} groups sharing their first 75%), ${s.history} recorded decisions of history, ${s.warmup} untimed and ${s.decisions} timed decisions per configuration; Node ${r.node}. Decision = new PrefixHashes + Scheduler.schedule; "served" = recording the prompt's blocks after the answer. µs.`,
    '',
    table(['Configuration', 'Scorers', 'p50', 'p99', 'p99.9', 'max', 'mean', 'p50 × Random', 'served p50', 'served p99', 'p99 ≤ 200 µs'],
      r.rows.map((x) => [x.name, x.scorers, cell(x.decisionUs.p50, 1), cell(x.decisionUs.p99, 1), cell(x.decisionUs.p999, 1), cell(x.decisionUs.max, 0), cell(x.decisionUs.mean, 1), cell(x.ratioP50, 2), cell(x.servedUs.p50, 1), cell(x.servedUs.p99, 1), x.decisionUs.p99 <= 200 ? 'yes' : '**no**'])),
  ].join('\n');
}
