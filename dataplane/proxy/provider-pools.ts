/**
 * Connection pools to external providers, one per origin and TLS setting, kept across snapshots
 * while some provider uses them. A provider with insecureSkipVerify gets a pool of its own, so
 * turning verification off for one provider never touches the connections of another. Providers
 * are not engine pods: no metrics are scraped from them and the scheduler never sees them.
 */
import { Pool } from 'undici';
import { Endpoint } from './endpoint-registry';

/** Pool settings. */
export interface ProviderPoolOptions {
  connections: number;
  connectTimeoutMs: number;
}

/** Owns the provider endpoints. */
export class ProviderPools {
  private readonly byKey = new Map<string, Endpoint>();

  constructor(private readonly options: ProviderPoolOptions) {}

  /** The endpoint for `origin` (`https://host:port`), verifying its certificate unless `skipVerify`. */
  acquire(origin: string, skipVerify: boolean): Endpoint {
    const key = `${skipVerify ? 'noverify' : 'verify'} ${origin}`;
    let ep = this.byKey.get(key);
    if (!ep) {
      const { connections, connectTimeoutMs } = this.options;
      const pool = new Pool(origin, {
        connections,
        // Verification follows Node's trust store (plus NODE_EXTRA_CA_CERTS) unless turned off here.
        connect: { timeout: connectTimeoutMs, ...(skipVerify ? { rejectUnauthorized: false } : {}) },
        keepAliveTimeout: 4_000,
        pipelining: 1,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      // id -1: a provider is never in the scheduler's per-endpoint arrays.
      // Named by its origin: providers sharing an origin share the endpoint and its connections.
      ep = new Endpoint(-1, origin, origin, 'vLLM', pool, pool);
      this.byKey.set(key, ep);
    }
    return ep;
  }

  /** Closes the pools no provider of the new snapshot uses. */
  retain(keep: ReadonlySet<Endpoint>): void {
    for (const [key, ep] of this.byKey) {
      if (keep.has(ep)) continue;
      this.byKey.delete(key);
      void ep.close();
    }
  }

  /** Closes every pool. */
  async close(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((ep) => ep.close()));
    this.byKey.clear();
  }
}
