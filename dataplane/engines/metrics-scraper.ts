/**
 * Scrapes every endpoint's /metrics (and now and then /v1/models) and publishes the result as
 * `ep.metrics`, the object the scheduler plugins read.
 *
 * - One timer ticks every intervalMs; each tick queues every endpoint that is not already queued
 *   or being scraped (so a slow endpoint never has two scrapes in flight) and marks stale those
 *   whose last success is older than staleAfterMs even if their scrape is still pending.
 * - At most `concurrency` scrapes run at once; the queue holds each endpoint at most once, so it
 *   is bounded by the number of endpoints.
 * - Requests go through the endpoint's one-connection scrape pool (kept alive, and never queued
 *   behind inference traffic), each
 *   bounded by timeoutMs from dispatch to the last body byte, bodies capped at MAX_BODY_BYTES.
 * - Success: a new EngineMetrics object replaces `ep.metrics` (readers holding the old one keep
 *   a consistent view), stale=false, scrapedAt=now. Failure: the last values stay, lastError is
 *   set, and stale becomes true once now - scrapedAt > staleAfterMs.
 * - /v1/models is fetched with the scrape when modelsIntervalMs has passed since the last try;
 *   its adapters are merged into lora.active (see models-adapter.ts). Its failure does not fail
 *   the scrape: the previous adapter list is kept.
 * - New endpoints (registry onAdded) go to the head of the queue; removed ones are forgotten,
 *   and a scrape that finishes after removal is discarded.
 */
import type { Dispatcher } from 'undici';
import type { InferenceEngine } from '../../shared/api/model-server';
import type { Logger } from '../../shared/log/logger';
import type { Endpoint, EndpointRegistry } from '../proxy/endpoint-registry';
import type { EngineAdapter, HistogramState } from './engine-adapter';
import type { EngineMetrics } from './engine-metrics';
import { mergeLora, parseModelList } from './models-adapter';
import { parsePrometheusText } from './prometheus-text';
import { SglangAdapter } from './sglang-adapter';
import { TgiAdapter } from './tgi-adapter';
import { VllmAdapter } from './vllm-adapter';

/** Largest /metrics or /v1/models body read; vLLM's /metrics is a few hundred KB. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

const ADAPTERS: Readonly<Record<InferenceEngine, EngineAdapter>> = {
  vLLM: new VllmAdapter(),
  SGLang: new SglangAdapter(),
  TGI: new TgiAdapter(),
};

/** The adapter that reads an engine's metrics. */
export function adapterFor(engine: InferenceEngine): EngineAdapter | undefined {
  return ADAPTERS[engine];
}

/** The part of EndpointRegistry the scraper uses (a test can pass a stand-in). */
export type EndpointSource = Pick<EndpointRegistry, 'all' | 'onAdded' | 'onRemoved'>;

/** Options of MetricsScraper; every field has a default. */
export interface MetricsScraperOptions {
  /** Scrape period per endpoint (default 1000 ms). */
  intervalMs?: number;
  /** Bound on one request, dispatch to last body byte (default 500 ms). */
  timeoutMs?: number;
  /** Scrapes in flight at once (default 16). */
  concurrency?: number;
  /** Age of the last success after which an endpoint is stale (default 3000 ms). */
  staleAfterMs?: number;
  /** Period of /v1/models fetches per endpoint (default 5000 ms). */
  modelsIntervalMs?: number;
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** Clock in ms since epoch (tests pass a fake one). */
  now?: () => number;
  /** Called after every /metrics scrape, for the lead's prom-client histogram. */
  onScrape?: (ep: Endpoint, ok: boolean, seconds: number) => void;
}

/** Scrape counters of one endpoint, for the data plane's own /metrics. */
export interface ScrapeCounters {
  ok: number;
  failed: number;
  /** Duration of the last /metrics request, seconds. */
  lastDurationSeconds: number;
  /** Sum of all /metrics request durations, seconds (with ok + failed: a mean). */
  durationSecondsSum: number;
}

interface ScrapeState {
  readonly ep: Endpoint;
  readonly counters: ScrapeCounters;
  queued: boolean;
  running: Promise<void> | null;
  histograms: HistogramState | null;
  /** Adapter names /v1/models listed last time it answered; null before. */
  loadedAdapters: string[] | null;
  modelsTriedAt: number;
  failing: boolean;
}

const silent = (): void => undefined;
const SILENT_LOG: Pick<Logger, 'debug' | 'info' | 'warn'> = { debug: silent, info: silent, warn: silent };

/** Keeps `ep.metrics` of every registry endpoint fresh. */
export class MetricsScraper {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly staleAfterMs: number;
  private readonly modelsIntervalMs: number;
  private readonly log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  private readonly now: () => number;
  private readonly onScrape: ((ep: Endpoint, ok: boolean, seconds: number) => void) | undefined;
  private readonly states = new Map<Endpoint, ScrapeState>();
  private readonly queue: ScrapeState[] = [];
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  /** Scrapes that succeeded / failed since construction, all endpoints. */
  totalOk = 0;
  totalFailed = 0;

  constructor(private readonly registry: EndpointSource, opts: MetricsScraperOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 500;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.staleAfterMs = opts.staleAfterMs ?? 3000;
    this.modelsIntervalMs = opts.modelsIntervalMs ?? 5000;
    this.log = opts.log ?? SILENT_LOG;
    this.now = opts.now ?? Date.now;
    this.onScrape = opts.onScrape;
    registry.onAdded((ep) => {
      const st = this.stateOf(ep);
      if (this.started) this.enqueue(st, true);
    });
    registry.onRemoved((ep) => {
      const st = this.states.get(ep);
      if (!st) return;
      this.states.delete(ep);
      const i = this.queue.indexOf(st);
      if (i >= 0) this.queue.splice(i, 1);
    });
  }

  /** Starts the loop; the first tick runs at once. Timers are unref'd: they never hold the process. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const ep of this.registry.all()) this.stateOf(ep);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the loop and waits for scrapes in flight (each is bounded by timeoutMs). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const st of this.queue) st.queued = false;
    this.queue.length = 0;
    const inFlight: Promise<void>[] = [];
    for (const st of this.states.values()) if (st.running) inFlight.push(st.running);
    await Promise.all(inFlight);
  }

  /**
   * Scrapes one endpoint now, outside the concurrency bound; joins a scrape already in flight.
   * An endpoint the registry no longer holds is left alone (its pool may be closing).
   */
  scrapeNow(ep: Endpoint): Promise<void> {
    let st = this.states.get(ep);
    if (!st) {
      for (const live of this.registry.all()) if (live === ep) st = this.stateOf(ep);
      if (!st) return Promise.resolve();
    }
    return this.run(st);
  }

  /** Scrape counters per endpoint (live objects; read, do not modify). */
  counters(): IterableIterator<[Endpoint, Readonly<ScrapeCounters>]> {
    const it = this.states.values();
    return (function* () {
      for (const st of it) yield [st.ep, st.counters] as [Endpoint, Readonly<ScrapeCounters>];
    })();
  }

  private stateOf(ep: Endpoint): ScrapeState {
    let st = this.states.get(ep);
    if (!st) {
      st = {
        ep,
        counters: { ok: 0, failed: 0, lastDurationSeconds: 0, durationSecondsSum: 0 },
        queued: false,
        running: null,
        histograms: null,
        loadedAdapters: null,
        modelsTriedAt: -Infinity,
        failing: false,
      };
      this.states.set(ep, st);
    }
    return st;
  }

  private tick(): void {
    const now = this.now();
    for (const st of this.states.values()) {
      const m = st.ep.metrics;
      // A scrape stuck behind the concurrency bound must not keep an endpoint looking fresh.
      if (!m.stale && now - m.scrapedAt > this.staleAfterMs) st.ep.metrics = { ...m, stale: true };
      this.enqueue(st, false);
    }
  }

  private enqueue(st: ScrapeState, first: boolean): void {
    if (st.queued || st.running) return;
    st.queued = true;
    if (first) this.queue.unshift(st);
    else this.queue.push(st);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const st = this.queue.shift()!;
      st.queued = false;
      if (st.running || this.states.get(st.ep) !== st) continue;
      this.active++;
      void this.run(st).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private run(st: ScrapeState): Promise<void> {
    if (!st.running) {
      st.running = this.scrape(st).finally(() => {
        st.running = null;
      });
    }
    return st.running;
  }

  /** One scrape; never rejects (a bug in an adapter must not become an unhandled rejection). */
  private async scrape(st: ScrapeState): Promise<void> {
    try {
      await this.scrapeOnce(st);
    } catch (e) {
      this.fail(st, `internal error: ${errorMessage(e)}`, 0);
    }
  }

  private async scrapeOnce(st: ScrapeState): Promise<void> {
    const ep = st.ep;
    const adapter = adapterFor(ep.engine);
    if (!adapter) {
      this.fail(st, `no metrics adapter for engine ${String(ep.engine)}`, 0);
      return;
    }
    if (this.now() - st.modelsTriedAt >= this.modelsIntervalMs) await this.fetchModels(st);

    const t0 = performance.now();
    let text: string;
    try {
      text = await this.get(ep, '/metrics', 'text/plain;version=0.0.4;q=1,*/*;q=0.1');
    } catch (e) {
      this.fail(st, errorMessage(e), (performance.now() - t0) / 1000);
      return;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (this.states.get(ep) !== st) return;

    const parsed = parsePrometheusText(text, { only: adapter.sampleNames });
    const now = this.now();
    const previous = st.histograms?.engine === adapter.engine ? st.histograms : null;
    const { metrics, state } = adapter.read(parsed.samples, previous, now);
    if (metrics.running === undefined) {
      this.fail(st, `no ${adapter.engine} request gauges in /metrics (${parsed.skipped} lines unreadable)`, seconds);
      return;
    }
    st.histograms = state;
    const next: EngineMetrics = {
      running: metrics.running,
      waiting: metrics.waiting ?? 0,
      kvUsage: metrics.kvUsage ?? 0,
      ttftSeconds: metrics.ttftSeconds ?? null,
      tpotSeconds: metrics.tpotSeconds ?? null,
      lora: mergeLora(metrics.lora ?? null, st.loadedAdapters),
      blockSize: metrics.blockSize ?? null,
      scrapedAt: now,
      stale: false,
      lastError: null,
    };
    ep.metrics = next;
    st.counters.ok++;
    this.totalOk++;
    this.record(st, true, seconds);
    if (st.failing) {
      st.failing = false;
      this.log.info({ endpoint: ep.origin, pod: ep.pod }, 'metrics scrape recovered');
    }
  }

  private fail(st: ScrapeState, message: string, seconds: number): void {
    const ep = st.ep;
    if (this.states.get(ep) !== st) return;
    const prev = ep.metrics;
    const stale = prev.stale || this.now() - prev.scrapedAt > this.staleAfterMs;
    ep.metrics = { ...prev, stale, lastError: message };
    st.counters.failed++;
    this.totalFailed++;
    this.record(st, false, seconds);
    // One warning per outage, not one per second.
    if (!st.failing) {
      st.failing = true;
      this.log.warn({ endpoint: ep.origin, pod: ep.pod, err: message }, 'metrics scrape failed');
    } else {
      this.log.debug({ endpoint: ep.origin, err: message }, 'metrics scrape failed');
    }
  }

  private record(st: ScrapeState, ok: boolean, seconds: number): void {
    st.counters.lastDurationSeconds = seconds;
    st.counters.durationSecondsSum += seconds;
    this.onScrape?.(st.ep, ok, seconds);
  }

  private async fetchModels(st: ScrapeState): Promise<void> {
    st.modelsTriedAt = this.now();
    try {
      const list = parseModelList(await this.get(st.ep, '/v1/models', 'application/json'));
      if (list) st.loadedAdapters = [...list.adapters];
      else this.log.debug({ endpoint: st.ep.origin }, '/v1/models is not a model list');
    } catch (e) {
      this.log.debug({ endpoint: st.ep.origin, err: errorMessage(e) }, '/v1/models failed');
    }
  }

  /** GET through the endpoint's scrape pool; the whole exchange is bounded by timeoutMs. */
  private async get(ep: Endpoint, path: string, accept: string): Promise<string> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    timer.unref();
    try {
      // The signal bounds the whole exchange; the per-request timeouts are a backstop in case
      // the pool outlives the signal's timer.
      const res: Dispatcher.ResponseData = await ep.scrapePool.request({
        method: 'GET',
        path,
        headers: { accept },
        signal: ac.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => undefined);
        throw new Error(`GET ${path}: HTTP ${res.statusCode}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.body.destroy();
          throw new Error(`GET ${path}: body over ${MAX_BODY_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, size).toString('utf8');
    } finally {
      clearTimeout(timer);
    }
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
