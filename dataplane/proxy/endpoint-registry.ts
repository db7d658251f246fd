/**
 * Live state of every engine endpoint, keyed by `address:port`, shared by all snapshots: the
 * keep-alive connection pool and the in-flight count. An endpoint that stays in the next snapshot
 * keeps its pool and counters; one that leaves is closed once its in-flight requests finish.
 */
import { Pool } from 'undici';

/** One engine endpoint as the data plane sees it. */
export class Endpoint {
  /** `namespace/name` of the pod. */
  pod: string;
  /** `http://address:port`. */
  readonly origin: string;
  /** Requests sent and not yet finished. */
  inFlight = 0;
  /** The keep-alive pool to this endpoint. */
  readonly pool: Pool;

  constructor(pod: string, origin: string, pool: Pool) {
    this.pod = pod;
    this.origin = origin;
    this.pool = pool;
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

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /** The endpoint for an origin, created on first use. */
  acquire(pod: string, origin: string): Endpoint {
    let ep = this.endpoints.get(origin);
    if (!ep) {
      ep = new Endpoint(pod, origin, new Pool(origin, {
        connections: this.options.connections,
        connect: { timeout: this.options.connectTimeoutMs },
        // Below uvicorn's 5 s idle timeout (vLLM, SGLang), so a reused socket is never one the engine just closed.
        keepAliveTimeout: 4_000,
        pipelining: 1,
        // Timeouts per request come from the ModelServer's trafficPolicy, so the pool sets none.
        headersTimeout: 0,
        bodyTimeout: 0,
      }));
      this.endpoints.set(origin, ep);
    }
    ep.pod = pod;
    return ep;
  }

  /** Closes endpoints not in `keep`; their pools finish queued requests first. */
  retain(keep: ReadonlySet<string>): void {
    for (const [origin, ep] of this.endpoints) {
      if (keep.has(origin)) continue;
      this.endpoints.delete(origin);
      ep.pool.close().catch(() => undefined);
    }
  }

  /** Every live endpoint. */
  all(): IterableIterator<Endpoint> {
    return this.endpoints.values();
  }

  /** Closes every pool. */
  async close(): Promise<void> {
    await Promise.all([...this.endpoints.values()].map((ep) => ep.pool.close().catch(() => undefined)));
    this.endpoints.clear();
  }
}
