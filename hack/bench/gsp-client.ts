#!/usr/bin/env node
/**
 * Streaming client for the scheduling benchmark, after SGLang's bench_serving: requests of a
 * generated-shared-prefix workload arrive as a Poisson process at the offered rate, at most
 * `concurrency` are in flight (an arrival waits for a free slot, like bench_serving's semaphore),
 * and each is a streamed /v1/completions with max_tokens = output length and ignore_eos.
 *
 * Per request it measures, from the moment it is sent (bench_serving starts its clock after the
 * semaphore): TTFT = first chunk with text, latency = end of the stream. It also reads the
 * simulator's `sim` field of the last chunk (serving pod, prefix-cache hit tokens, the engine's own
 * TTFT/e2e in simulated ms) and the usage chunk (completion tokens).
 *
 * With several data-plane origins (replicas behind one Kubernetes Service), request i goes to
 * origin i mod N, in sending order: the even spread a Service's round-robin gives, with no
 * client-side affinity that would help a scheduler.
 *
 * Times are measured on the wall clock and reported in simulated ms (wall × timeScale). It runs in
 * its own process (`node gsp-client.js '<GspClientConfig json>'` prints one JSON line); the
 * workload is regenerated here from its spec (and the vocabulary file under a real tokenizer), so
 * only the spec crosses the process boundary.
 * Bounded: exactly spec.groups × spec.perGroup requests, each with a timeout, and a deadline for
 * the whole run.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { generateWorkload, poissonArrivals, promptOf, type GspSpec, type Vocabulary } from './gsp-workload';
import { MEASURING_LINE } from './load-common';

/** What the child is told to do. */
export interface GspClientConfig {
  /** Data-plane origins, e.g. http://127.0.0.1:8080; requests go round-robin across them. */
  origins: string[];
  model: string;
  spec: GspSpec;
  /** JSON file of a Vocabulary (gsp-workload.ts) when the engines run a real tokenizer. */
  vocabularyFile?: string;
  /** Offered rate, requests per simulated second. */
  rate: number;
  /** Most requests in flight. */
  concurrency: number;
  /** Simulated ms per wall ms (the simulator's timeScale). */
  timeScale: number;
  /** Wall ms without progress before a request counts as failed. */
  requestTimeoutMs: number;
  /** Wall ms for the whole run; requests still open then count as failed. */
  deadlineMs: number;
}

/** Per-request results, column-wise (index = position in sending order); times in simulated ms. */
export interface GspRequestColumns {
  group: number[];
  /** 1 = streamed to the end with the expected number of tokens. */
  ok: number[];
  /** Arrival (scheduled) time from the start. */
  arrivalMs: number[];
  /** Send time from the start (arrival + wait for a free slot). */
  sentMs: number[];
  /** Send → first chunk with text. */
  ttftMs: number[];
  /** Send → end of the stream. */
  latencyMs: number[];
  /** Index of the serving pod in `pods` (from the sim field), -1 if unknown. */
  pod: number[];
  /** Prompt tokens served from the engine's prefix cache. */
  hitTokens: number[];
  /** The engine's own TTFT and e2e (simulated ms, exact by its cost model). */
  engineTtftMs: number[];
  engineE2eMs: number[];
  completionTokens: number[];
  /** Prompt tokens the engine counted (usage.prompt_tokens), NaN if it sent none. */
  promptTokens: number[];
}

/** What the child prints. */
export interface GspClientResult {
  requests: number;
  ok: number;
  /** First send → last answer, simulated seconds. */
  durationSimSec: number;
  /** Same in wall seconds. */
  durationWallSec: number;
  /** Pod names in the order `pod` indexes them. */
  pods: string[];
  columns: GspRequestColumns;
  /** Failure messages by kind (first few kept). */
  errors: Record<string, number>;
  firstError?: string;
  /** Most requests in flight at once. */
  peakInFlight: number;
  /** Largest wall lateness of the arrival timer, ms (the client's own lag). */
  maxArrivalLagWallMs: number;
  /** CPU seconds of this process during the run. */
  cpuSec: number;
}

/** Incremental SSE parser: feed text, get complete events' data payloads. */
export class SseParser {
  private buf = '';
  /** Returns the data payloads of every event completed by `text`. */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    // Bounded by the buffer: each iteration consumes one event.
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end < 0) break;
      const event = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      for (const line of event.split('\n')) if (line.startsWith('data: ')) out.push(line.slice(6));
    }
    return out;
  }
}

/** Runs the workload against `cfg.origin`; `onMeasuring` fires when the first request is sent. */
export async function runGspClient(cfg: GspClientConfig, onMeasuring: () => void = () => undefined): Promise<GspClientResult> {
  const vocabulary = cfg.vocabularyFile ? (JSON.parse(readFileSync(cfg.vocabularyFile, 'utf8')) as Vocabulary) : undefined;
  const w = generateWorkload(cfg.spec, vocabulary);
  const n = w.requests.length;
  const arrivalsSec = poissonArrivals(n, cfg.rate, cfg.spec.seed);
  const scale = cfg.timeScale;
  // One pool per origin, each able to carry every request in flight (round-robin can't exceed it).
  const pools = cfg.origins.map((origin) => new Pool(origin, {
    connections: cfg.concurrency + 8,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: cfg.requestTimeoutMs,
    bodyTimeout: cfg.requestTimeoutMs,
    connect: { timeout: 5_000 },
  }));
  const col: GspRequestColumns = {
    group: w.requests.map((r) => r.group), ok: new Array(n).fill(0), arrivalMs: Array.from(arrivalsSec, (s) => s * 1000),
    sentMs: new Array(n).fill(NaN), ttftMs: new Array(n).fill(NaN), latencyMs: new Array(n).fill(NaN), pod: new Array(n).fill(-1),
    hitTokens: new Array(n).fill(NaN), engineTtftMs: new Array(n).fill(NaN), engineE2eMs: new Array(n).fill(NaN), completionTokens: new Array(n).fill(0),
    promptTokens: new Array(n).fill(NaN),
  };
  const pods: string[] = [];
  const errors: Record<string, number> = {};
  let firstError: string | undefined;
  const fail = (kind: string, message: string): void => {
    errors[kind] = (errors[kind] ?? 0) + 1;
    firstError ??= `${kind}: ${message}`;
  };

  let inFlight = 0;
  let peak = 0;
  let settled = 0;
  let lastEnd = 0;
  let maxLag = 0;
  let stopped = false;
  const waiting: number[] = [];
  let waitHead = 0;
  let onAllDone: () => void = () => undefined;
  const allDone = new Promise<void>((r) => { onAllDone = r; });
  const t0 = performance.now() + 20;
  const toSim = (wallMs: number): number => wallMs * scale;
  let cpuStart: NodeJS.CpuUsage | null = null;

  const one = async (i: number): Promise<void> => {
    const r = w.requests[i]!;
    const body = JSON.stringify({
      model: cfg.model, prompt: promptOf(w, r), max_tokens: cfg.spec.outputTokens, ignore_eos: true,
      temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    const sent = performance.now();
    col.sentMs[i] = toSim(sent - t0);
    try {
      const res = await pools[i % pools.length]!.request({ method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' }, body });
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        fail(`status ${res.statusCode}`, text.slice(0, 300));
        return;
      }
      res.body.setEncoding('utf8');
      const sse = new SseParser();
      let first = NaN;
      let finished = false;
      for await (const chunk of res.body as AsyncIterable<string>) {
        if (stopped) break;
        const now = performance.now();
        for (const data of sse.push(chunk)) {
          if (data === '[DONE]') {
            finished = true;
            continue;
          }
          // Parse only what is needed: until the first text, then the chunks carrying sim or usage.
          if (!Number.isNaN(first) && !data.includes('"sim"') && !data.includes('"usage"')) continue;
          const j = JSON.parse(data) as { choices?: { text?: string }[]; usage?: { completion_tokens?: number; prompt_tokens?: number }; sim?: { pod?: string; prefix_cache_hit_tokens?: number; ttft_ms?: number; e2e_ms?: number } };
          if (Number.isNaN(first) && j.choices?.[0]?.text) first = now;
          if (j.sim) {
            let p = pods.indexOf(j.sim.pod ?? '?');
            if (p < 0) p = pods.push(j.sim.pod ?? '?') - 1;
            col.pod[i] = p;
            col.hitTokens[i] = j.sim.prefix_cache_hit_tokens ?? NaN;
            col.engineTtftMs[i] = j.sim.ttft_ms ?? NaN;
            col.engineE2eMs[i] = j.sim.e2e_ms ?? NaN;
          }
          if (j.usage?.completion_tokens !== undefined) col.completionTokens[i] = j.usage.completion_tokens;
          if (j.usage?.prompt_tokens !== undefined) col.promptTokens[i] = j.usage.prompt_tokens;
        }
      }
      const end = performance.now();
      if (stopped) return;
      if (!finished) return fail('incomplete stream', `request ${i} ended without [DONE]`);
      if (col.completionTokens[i] !== cfg.spec.outputTokens) return fail('wrong length', `request ${i}: ${col.completionTokens[i]} tokens, expected ${cfg.spec.outputTokens}`);
      col.ttftMs[i] = toSim(first - sent);
      col.latencyMs[i] = toSim(end - sent);
      col.ok[i] = 1;
      if (end > lastEnd) lastEnd = end;
    } catch (e) {
      if (!stopped) fail((e as { code?: string }).code ?? 'error', (e as Error).message);
    }
  };

  const pump = (): void => {
    // Bounded by the queue: each iteration starts one waiting request.
    while (inFlight < cfg.concurrency && waitHead < waiting.length) {
      const i = waiting[waitHead++]!;
      inFlight++;
      if (inFlight > peak) peak = inFlight;
      if (cpuStart === null) {
        cpuStart = process.cpuUsage();
        onMeasuring();
      }
      void one(i).finally(() => {
        inFlight--;
        if (++settled === n) onAllDone();
        else pump();
      });
    }
  };

  const due = (i: number): number => t0 + (arrivalsSec[i]! * 1000) / scale;
  let next = 0;
  const tick = (): void => {
    const now = performance.now();
    // Bounded by n: each iteration admits one arrival.
    while (next < n && due(next) <= now) {
      maxLag = Math.max(maxLag, now - due(next));
      waiting.push(next++);
    }
    pump();
    if (next < n && !stopped) setTimeout(tick, Math.max(0, due(next) - performance.now()));
  };
  setTimeout(tick, Math.max(0, t0 - performance.now()));

  let deadlineTimer: NodeJS.Timeout | undefined;
  await Promise.race([allDone, new Promise<void>((r) => { deadlineTimer = setTimeout(r, cfg.deadlineMs); })]);
  clearTimeout(deadlineTimer);
  stopped = true;
  const cpu = process.cpuUsage(cpuStart ?? undefined);
  const endAt = performance.now();
  await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  const ok = col.ok.reduce((a, b) => a + b, 0);
  if (settled < n) fail('deadline', `${n - settled} requests unfinished after ${cfg.deadlineMs} ms`);
  const span = (lastEnd || endAt) - t0;
  return {
    requests: n,
    ok,
    durationSimSec: toSim(span) / 1000,
    durationWallSec: span / 1000,
    pods,
    columns: col,
    errors,
    ...(firstError ? { firstError } : {}),
    peakInFlight: peak,
    maxArrivalLagWallMs: Math.round(maxLag * 1000) / 1000,
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * Runs the client in a child process and returns its result; `onMeasuring` fires when it sends its
 * first request. The child is killed 30 s after its own deadline.
 */
export function runGspClientInChild(cfg: GspClientConfig, onMeasuring: () => void = () => undefined): Promise<GspClientResult & { childPid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=2048', join(__dirname, 'gsp-client.js'), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let announced = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!announced && out.includes(MEASURING_LINE)) {
        announced = true;
        onMeasuring();
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), cfg.deadlineMs + 30_000);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    // 'close', not 'exit': the result line may still be in the pipe when the process exits.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve({ ...(JSON.parse(line) as GspClientResult), childPid: child.pid ?? -1 });
      } catch (e) {
        reject(new Error(`gsp client failed (${(e as Error).message}); stderr:\n${err.slice(-2000)}`));
      }
    });
  });
}

if (require.main === module) {
  let cfg: GspClientConfig;
  try {
    cfg = JSON.parse(process.argv[2] ?? '') as GspClientConfig;
    if (!Array.isArray(cfg.origins) || cfg.origins.length === 0) throw new Error('origins must list at least one data-plane URL');
    if (!(cfg.rate > 0 && cfg.concurrency > 0 && cfg.timeScale > 0 && cfg.requestTimeoutMs > 0 && cfg.deadlineMs > 0)) throw new Error('rate, concurrency, timeScale, requestTimeoutMs and deadlineMs must be positive');
  } catch (e) {
    process.stderr.write(`usage: gsp-client.js '<GspClientConfig json>': ${(e as Error).message}\n`);
    process.exit(2);
  }
  runGspClient(cfg, () => { process.stdout.write(`${MEASURING_LINE}\n`); }).then(
    (r) => {
      // Exit only once the (large) line is flushed: writes to a pipe are asynchronous on Linux.
      process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0));
    },
    (e: unknown) => {
      process.stderr.write(`gsp client: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
