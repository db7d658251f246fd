/**
 * What the open-loop and closed-loop load generators share: their configuration and result
 * shapes, the client pool, and how failures are classified and counted.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { round, type LatencySummary } from './stats';

/** One load run against one origin. */
export interface LoadConfig {
  /** Target origin, e.g. http://127.0.0.1:8080. */
  origin: string;
  /** Request path, e.g. /v1/completions. */
  path: string;
  /** JSON request body, sent with every request. */
  body: string;
  /** Open loop: requests per second. Ignored when `concurrency` is set. */
  rate: number;
  /**
   * Closed loop instead of open loop: this many clients each send their next request as soon as
   * the previous answer ends. Measures the most a path can serve, not latency at a given rate.
   */
  concurrency?: number;
  /** Measured seconds. */
  durationSec: number;
  /**
   * Seconds of load before the measured phase, not counted. Open loop ramps the rate from 10%
   * over the first half and holds it over the second (see `schedule`).
   */
  warmupSec: number;
  /** Keep-alive connections of the client pool; generous so the client is never the queue. */
  connections: number;
  /** Open loop: most requests in flight; a request due beyond this is not sent and counts as an error. */
  maxOutstanding: number;
  /** A request without progress for this long counts as a timeout; also bounds the final drain. */
  timeoutMs: number;
  /** Headers sent with every request besides `content-type`, e.g. an API key's `authorization`. */
  headers?: Record<string, string>;
  /** An https origin's CA certificate (PEM file) to trust besides the system's: a private CA. */
  caFile?: string;
}

/** Failed requests by kind. */
export interface LoadErrors {
  /** Non-200 answers by status code. */
  status: Record<string, number>;
  /** Connection refused, reset, or other transport errors. */
  connection: number;
  /** No answer (or body) within timeoutMs, or still open at the end of the drain. */
  timeout: number;
  /** Open loop: not sent because maxOutstanding requests were already in flight. */
  overload: number;
  /** 200 answers whose body was not a completion. */
  badBody: number;
}

/** One 100 ms slice of the measured phase (by scheduled or start time). */
export interface TimelineBucket {
  /** Seconds since the measured phase began. */
  t: number;
  /** Requests scheduled (open loop) or started (closed loop) in the slice. */
  due: number;
  failed: number;
  /** Worst latency of the slice's successful requests, ms. */
  maxMs: number;
}

/** What one run measured (measured phase only). */
export interface LoadResult {
  /** Offered rate (open loop) or 0 (closed loop). */
  rate: number;
  /** Clients (closed loop) or 0 (open loop). */
  concurrency: number;
  durationSec: number;
  /** Requests scheduled (open loop: rate × durationSec) or started (closed loop) in the measured phase. */
  scheduled: number;
  /** Requests scheduled or started in all, warm-up included (for CPU-per-request accounting). */
  scheduledTotal: number;
  /** Successful (200, well-formed) responses. */
  ok: number;
  errors: LoadErrors;
  /** Sum of every error kind. */
  errorCount: number;
  /** ok ÷ time from the start of the measured phase to its last response. */
  achievedRate: number;
  /** ok ÷ scheduled, in percent. */
  successPct: number;
  /** Scheduled send (closed loop: actual send) → end of body, successful requests, ms. */
  latencyMs: LatencySummary;
  /** Actual send → end of body, successful requests, ms. */
  serviceMs: LatencySummary;
  /** Open loop: actual − scheduled send, ms: the generator's own lateness. Empty for closed loop. */
  sendLagMs: LatencySummary;
  /** Most requests in flight at once. */
  peakOutstanding: number;
  /** CPU seconds (user + system) this generator used in the measured phase. */
  cpuSec: number;
  /** CPU seconds this generator process used in its whole life (for machine-wide accounting). */
  cpuTotalSec: number;
  /** Wall seconds of the measured phase including the drain. */
  elapsedSec: number;
  /** Client connections open at the end (how many the server needed). */
  connectionsUsed: number;
  /** Per 100 ms of the measured phase, so a stall shows up as a time and not only as a p99. */
  timeline: TimelineBucket[];
  /** First transport error message, to tell "refused" from "reset" without rerunning. */
  firstError?: string;
}

/**
 * Line a child load generator prints when its measured phase begins, so the orchestrator can
 * sample the other processes' CPU over exactly that window (not the child's start and warm-up).
 */
export const MEASURING_LINE = 'load-generator: measuring';

/** The client pool: keep-alive, no pipelining (as OpenAI clients do), timeouts from the config. */
export function makePool(cfg: LoadConfig): Pool {
  return new Pool(cfg.origin, {
    connections: cfg.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: cfg.timeoutMs,
    bodyTimeout: cfg.timeoutMs,
    connect: { timeout: Math.min(cfg.timeoutMs, 5_000), ...(cfg.caFile ? { ca: readFileSync(cfg.caFile) } : {}) },
  });
}

/** The headers of every request of a run: JSON, plus the config's own. */
export function requestHeaders(cfg: Pick<LoadConfig, 'headers'>): Record<string, string> {
  return { 'content-type': 'application/json', ...cfg.headers };
}

/** Error counters, all zero. */
export function noErrors(): LoadErrors {
  return { status: {}, connection: 0, timeout: 0, overload: 0, badBody: 0 };
}

/** Total of every error kind. */
export function countErrors(e: LoadErrors): number {
  return Object.values(e.status).reduce((a, b) => a + b, 0) + e.connection + e.timeout + e.overload + e.badBody;
}

/** Counts a thrown request error under its kind; returns a one-line description. */
export function classifyError(errors: LoadErrors, err: unknown): string {
  const e = err as { code?: string; message?: string; badBody?: boolean };
  if (e.badBody) errors.badBody++;
  else if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') errors.timeout++;
  else errors.connection++;
  return `${e.code ?? 'error'}: ${e.message ?? String(err)}`;
}

/**
 * Throws (as a badBody error) unless `text` is an OpenAI completion. Called on one body per run:
 * proof the path really reaches an engine, without a JSON.parse per request in the generator.
 */
export function assertCompletion(text: string): void {
  let choices: unknown;
  try {
    choices = (JSON.parse(text) as { choices?: unknown }).choices;
  } catch {
    choices = undefined;
  }
  if (!Array.isArray(choices) || choices.length === 0) throw Object.assign(new Error(`not a completion: ${text.slice(0, 200)}`), { badBody: true });
}

/**
 * Buckets requests by 100 ms of their offset (ms since the measured phase began); `latency` is
 * NaN for failed or unanswered requests, `failed` is 1 for failed ones.
 */
export function timeline(offsetMs: ArrayLike<number>, latency: ArrayLike<number>, failed: ArrayLike<number>): TimelineBucket[] {
  const out: TimelineBucket[] = [];
  for (let i = 0; i < offsetMs.length; i++) {
    const b = Math.max(0, Math.floor(offsetMs[i]! / 100));
    // Fill gaps so the array index is the bucket number.
    while (out.length <= b) out.push({ t: round(out.length / 10, 1), due: 0, failed: 0, maxMs: 0 });
    const row = out[b]!;
    row.due++;
    row.failed += failed[i]!;
    if (latency[i]! > row.maxMs) row.maxMs = round(latency[i]!, 2);
  }
  return out;
}
