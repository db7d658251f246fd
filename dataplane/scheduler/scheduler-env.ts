/**
 * State the scheduler plugins share and keep across snapshots: the prefix indexes (one per hash
 * block size), the engines' KV events (one subscription per pod, one block index), the request
 * tokenizers, and the source of randomness. A live configuration change rebuilds the plugins but
 * not what they learnt; an endpoint that leaves every snapshot is forgotten.
 */
import type { TokenizerSpec } from '../../shared/config/kv-events-annotations';
import type { Logger } from '../../shared/log/logger';
import { KvBlockIndex } from '../kv-events/kv-block-index';
import { KvEventHub, type KvEventSource } from '../kv-events/kv-event-hub';
import type { Endpoint, EndpointRegistry } from '../proxy/endpoint-registry';
import type { RoutingTable } from '../routing/routing-table';
import { describeTokenizers, tokenizerFor } from '../tokenizer/request-tokenizer';
import { PrefixIndex } from './prefix-index';
import type { KvEventsView, PluginEnv, Random } from './types';
import type { RequestTokenizer } from '../tokenizer/request-tokenizer';

/** Options of the data plane's plugin environment. */
export interface SchedulerEnvOptions {
  random?: Random;
  log?: Logger;
  /** Blocks the KV-event index keeps per pod (see kv-events/kv-block-index.ts). */
  kvBlocksPerPod?: number;
}

/** The data plane's one plugin environment. */
export class SchedulerEnv implements PluginEnv {
  readonly random: Random;
  readonly kvEvents: KvEventsView;
  private readonly indexes = new Map<number, PrefixIndex>();
  private readonly kvIndex: KvBlockIndex;
  private readonly hub: KvEventHub;
  private readonly log: Logger | undefined;

  constructor(registry: EndpointRegistry, options: SchedulerEnvOptions = {}) {
    this.random = options.random ?? Math.random;
    this.log = options.log;
    this.kvIndex = new KvBlockIndex(options.kvBlocksPerPod !== undefined ? { maxBlocksPerPod: options.kvBlocksPerPod } : {});
    this.hub = new KvEventHub({ index: this.kvIndex, ...(options.log ? { log: options.log } : {}) });
    const { hub, kvIndex } = this;
    this.kvEvents = {
      liveBlockSize: (id) => (hub.state(id) === 'live' ? kvIndex.blockSizeOf(id) : 0),
      match: (blockSize, hashes, runs) => kvIndex.match(blockSize, hashes, runs),
      maxBlockSize: () => {
        const sizes = kvIndex.blockSizes();
        return sizes.length ? sizes[sizes.length - 1]! : 0;
      },
    };
    registry.onRemoved((ep) => {
      for (const idx of this.indexes.values()) idx.drop(ep.id);
    });
  }

  /** The prefix index for a block size, created on first use. */
  prefixIndex(blockSize: number): PrefixIndex {
    let idx = this.indexes.get(blockSize);
    if (!idx) {
      idx = new PrefixIndex(31250);
      this.indexes.set(blockSize, idx);
    }
    return idx;
  }

  /** The tokenizer for a server's spec; one per distinct spec, kept across snapshots. */
  tokenizer(spec: TokenizerSpec): RequestTokenizer {
    return tokenizerFor(spec, this.log ?? SILENT);
  }

  /**
   * Subscribes to the KV events of every pod of every server that has them (and that a precise
   * scorer reads: the operator only carries `kvEvents` then), and drops pods no longer listed.
   */
  applyTable(table: RoutingTable): void {
    const sources: KvEventSource[] = [];
    const seen = new Set<number>();
    for (const server of table.servers.values()) {
      const kv = server.spec.kvEvents;
      if (!kv) continue;
      const all: readonly Endpoint[] = server.pd ? [...server.endpoints, ...server.pd.prefill] : server.endpoints;
      for (const ep of all) {
        if (seen.has(ep.id)) continue;
        seen.add(ep.id);
        const host = hostOf(ep.origin);
        const source: KvEventSource = { endpointId: ep.id, address: `tcp://${host}:${kv.port}`, topic: kv.topic };
        if (kv.replayPort !== undefined) source.replayAddress = `tcp://${host}:${kv.replayPort}`;
        sources.push(source);
      }
    }
    this.hub.sync(sources);
  }

  /** Blocks remembered per endpoint id, per block size, for the debug dump. */
  dump(): Record<string, Record<number, number>> {
    return Object.fromEntries([...this.indexes].map(([size, idx]) => [String(size), idx.sizes()]));
  }

  /** Subscriptions, counters, index sizes and tokenizers, for the debug dump. */
  dumpKvEvents(): Record<string, unknown> {
    return { ...this.hub.dump(), tokenizers: describeTokenizers() };
  }

  /** Closes every subscription. */
  close(): Promise<void> {
    return this.hub.close();
  }
}

/** For environments built without a logger (tools, tests). */
const SILENT = { warn: () => undefined, info: () => undefined };

/** The host of an `http://host:port` origin, IPv6 in brackets as ZeroMQ addresses want it. */
function hostOf(origin: string): string {
  const u = new URL(origin);
  return u.hostname;
}
