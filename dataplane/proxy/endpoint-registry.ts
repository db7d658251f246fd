/**
 * Live state of every engine endpoint, keyed by `address:port`, shared by all snapshots: the
 * keep-alive connection pool and the in-flight count. An endpoint that stays in the next snapshot
 * keeps its pool and counters; one that leaves is closed once its in-flight requests finish.
 */
import { Pool } from 'undici';
import type { InferenceEngine } from '../../shared/api/model-server';
import { unknownMetrics, type EngineMetrics } from '../engines/engine-metrics';
import { fnv1a32 } from '../../shared/util/hash';

/** One engine endpoint as the data plane sees it. */
export class Endpoint {
  /** Small dense number, stable for the endpoint's life: an index for per-endpoint arrays. */
  readonly id: number;
  /** `namespace/name` of the pod. */
  pod: string;
  /** `http://address:port`. */
  readonly origin: string;
  /**
   * 32-bit hash of the origin: the same in every data-plane replica (unlike `id`), so replicas
   * that rank endpoints by it agree without talking (scheduler/home-affinity.ts).
   */
  readonly originHash: number;
  /** The engine it runs, which decides how its metrics are read. */
  engine: InferenceEngine;
  /** Prefill/decode role from the pod's pdGroup labels; null for an aggregated pod. */
  role: 'prefill' | 'decode' | null = null;
  /** Requests sent and not yet finished. */
  inFlight = 0;
  /** Latest scraped engine state. */
  metrics: EngineMetrics = unknownMetrics();
  private trafficPool: Pool | null;
  private metricsPool: Pool | null;
  private readonly makePool: ((connections: number) => Pool) | null;

  /**
   * `pool` may be a ready pool (tests) or, through `makePool`, be created on first use: a snapshot
   * naming ten thousand endpoints then applies in milliseconds, and idle endpoints cost nothing.
   */
  constructor(id: number, pod: string, origin: string, engine: InferenceEngine, pool: Pool | null, scrapePool: Pool | null = pool, makePool: ((connections: number) => Pool) | null = null) {
    this.id = id;
    this.pod = pod;
    this.origin = origin;
    this.originHash = fnv1a32(origin);
    this.engine = engine;
    this.trafficPool = pool;
    this.metricsPool = scrapePool;
    this.makePool = makePool;
  }

  /** The keep-alive pool to this endpoint (created on first use). */
  get pool(): Pool {
    return (this.trafficPool ??= this.makePool!(0));
  }

  /**
   * A one-connection pool for metric scrapes, so a scrape never queues behind long streams on a
   * saturated endpoint, which is exactly when fresh metrics matter most.
   */
  get scrapePool(): Pool {
    return (this.metricsPool ??= this.makePool!(1));
  }

  /** Closes whichever pools were opened. */
  async close(): Promise<void> {
    const pools = [this.trafficPool, this.metricsPool === this.trafficPool ? null : this.metricsPool].filter((p): p is Pool => p !== null);
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}

/** Pool settings for every endpoint. */
export interface PoolOptions {
  connections: number;
  connectTimeoutMs: number;
}

/** Owns the endpoints and their pools across snapshot swaps. */
export class EndpointRegistry {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly options: PoolOptions;
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private readonly added: ((ep: Endpoint) => void)[] = [];
  private readonly removed: ((ep: Endpoint) => void)[] = [];

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /** Calls `fn` for every endpoint created (the scraper scrapes new ones at once). */
  onAdded(fn: (ep: Endpoint) => void): void {
    this.added.push(fn);
  }

  /** Calls `fn` for every endpoint retired (per-endpoint indexes drop its entries). */
  onRemoved(fn: (ep: Endpoint) => void): void {
    this.removed.push(fn);
  }

  /** The endpoint for an origin, created on first use. */
  acquire(pod: string, origin: string, engine: InferenceEngine, role: 'prefill' | 'decode' | null = null): Endpoint {
    let ep = this.endpoints.get(origin);
    if (!ep) {
      const id = this.freeIds.pop() ?? this.nextId++;
      const { connections, connectTimeoutMs } = this.options;
      ep = new Endpoint(id, pod, origin, engine, null, null, (n) => new Pool(origin, {
        connections: n || connections,
        connect: { timeout: connectTimeoutMs },
        // Below uvicorn's 5 s idle timeout (vLLM, SGLang), so a reused socket is never one the engine just closed.
        keepAliveTimeout: 4_000,
        pipelining: 1,
        // Traffic timeouts come from the ModelServer's trafficPolicy; scrapes set their own.
        headersTimeout: 0,
        bodyTimeout: 0,
      }));
      this.endpoints.set(origin, ep);
      for (const fn of this.added) fn(ep);
    }
    ep.pod = pod;
    ep.engine = engine;
    ep.role = role;
    return ep;
  }

  /** Closes endpoints not in `keep`; their pools finish queued requests first. */
  retain(keep: ReadonlySet<string>): void {
    for (const [origin, ep] of this.endpoints) {
      if (keep.has(origin)) continue;
      this.endpoints.delete(origin);
      this.freeIds.push(ep.id);
      for (const fn of this.removed) fn(ep);
      void ep.close();
    }
  }

  /** Every live endpoint. */
  all(): IterableIterator<Endpoint> {
    return this.endpoints.values();
  }

  /** How many endpoints are live. */
  get size(): number {
    return this.endpoints.size;
  }

  /** Closes every pool. */
  async close(): Promise<void> {
    await Promise.all([...this.endpoints.values()].map((ep) => ep.close()));
    this.endpoints.clear();
  }
}
