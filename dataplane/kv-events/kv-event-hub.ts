/**
 * KvEventHub: the data plane's KV-event subscriptions, one per engine pod that publishes vLLM KV
 * events, all feeding one KvBlockIndex that the precise prefix scorer reads.
 *
 * `sync(sources)` is called on every snapshot apply with the pods that publish; it starts the
 * missing subscriptions, stops those no longer listed (dropping their blocks from the index) and
 * restarts one whose address, topic or replay address changed (a new pod behind the same id).
 * It is idempotent and never throws: an invalid source is skipped and logged.
 *
 * The `zeromq` native addon is loaded on the first sync() that lists a source, so a data plane
 * without KV events never loads it.
 *
 * State per pod (what the scorer trusts): `connecting` until its first batch (a pod that never
 * publishes stays there, and the scorer falls back to its approximate index), `live` after it,
 * `stale` for staleMs after a gap that could not be replayed, `none` when not subscribed.
 */
import type { Logger } from '../../shared/log/logger';
import { KvBlockIndex } from './kv-block-index';
import {
  KvEventSubscriber, newKvEventCounters, type KvEventCounters, type KvEventSource, type KvSubscriptionState, type ZmqModule,
} from './kv-event-subscriber';

export type { KvEventSource, KvSubscriptionState, KvEventCounters } from './kv-event-subscriber';

/** Options of KvEventHub; every field has a default. */
export interface KvEventHubOptions {
  /** Index to feed (default: a new KvBlockIndex with its default cap). */
  index?: KvBlockIndex;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** Longest wait for a replay of missed batches (default 1000 ms; vLLM answers from memory). */
  replayTimeoutMs?: number;
  /** How long a pod stays `stale` after an unrecoverable gap (default 30,000 ms). */
  staleMs?: number;
  /** Messages a SUB socket queues while a replay runs (default 10,000, ~one engine step each). */
  receiveHighWaterMark?: number;
  /** Loads the zeromq module (tests count the calls). */
  loadZmq?: () => ZmqModule;
  /** Clock in ms (tests). */
  now?: () => number;
}

const silent = (): void => undefined;
const SILENT_LOG: Pick<Logger, 'info' | 'warn'> = { info: silent, warn: silent };
const ADDRESS_RE = /^tcp:\/\/[^\s/]+:\d{1,5}$/;

function sameSource(a: KvEventSource, b: KvEventSource): boolean {
  return a.address === b.address && a.topic === b.topic && (a.replayAddress ?? '') === (b.replayAddress ?? '');
}

/** Owner of the per-pod subscriptions and the block index. */
export class KvEventHub {
  /** The block index every subscription feeds. */
  readonly index: KvBlockIndex;
  /** Totals over every subscription this hub has run (monotonic). */
  readonly counters: KvEventCounters = newKvEventCounters();
  private readonly subs = new Map<number, KvEventSubscriber>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly loadZmq: () => ZmqModule;
  private readonly settings: { replayTimeoutMs: number; staleMs: number; receiveHighWaterMark: number; now: () => number; log: Pick<Logger, 'info' | 'warn'> };
  private zmq: ZmqModule | null = null;
  private closed = false;

  /** A hub with no subscriptions; nothing is loaded or opened until sync(). */
  constructor(opts: KvEventHubOptions = {}) {
    this.index = opts.index ?? new KvBlockIndex();
    // require() here, not a top-level import: the native addon loads only when first needed.
    this.loadZmq = opts.loadZmq ?? ((): ZmqModule => require('zeromq') as ZmqModule);
    this.settings = {
      replayTimeoutMs: opts.replayTimeoutMs ?? 1000,
      staleMs: opts.staleMs ?? 30_000,
      receiveHighWaterMark: opts.receiveHighWaterMark ?? 10_000,
      now: opts.now ?? Date.now,
      log: opts.log ?? SILENT_LOG,
    };
  }

  /** Make the subscriptions match `sources` (see the file header). */
  sync(sources: readonly KvEventSource[]): void {
    if (this.closed) return;
    const wanted = new Map<number, KvEventSource>();
    for (const src of sources) {
      const problem = this.problem(src, wanted);
      if (problem) {
        this.settings.log.warn({ source: src, problem }, 'kv-events: source skipped');
        continue;
      }
      wanted.set(src.endpointId, { ...src });
    }
    for (const [id, sub] of this.subs) {
      const want = wanted.get(id);
      if (want && sameSource(want, sub.source)) continue;
      this.stopSub(id, sub);
    }
    for (const [id, src] of wanted) {
      if (this.subs.has(id)) continue;
      let zmq: ZmqModule;
      try {
        zmq = this.zmq ??= this.loadZmq();
      } catch (e) {
        this.settings.log.warn({ err: (e as Error).message }, 'kv-events: cannot load zeromq; precise prefix scoring is off');
        return;
      }
      const sub = new KvEventSubscriber(src, zmq, this.index, this.counters, this.settings);
      this.subs.set(id, sub);
      sub.start();
    }
  }

  /** State of endpoint `id`'s subscription. */
  state(id: number): KvSubscriptionState {
    return this.subs.get(id)?.state() ?? 'none';
  }

  /** Debug dump: totals, index stats and every subscription. */
  dump(): Record<string, unknown> {
    return { counters: { ...this.counters }, index: this.index.stats(), subscriptions: [...this.subs.values()].map((s) => s.dump()) };
  }

  /** Stop every subscription and close its sockets. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, sub] of this.subs) this.stopSub(id, sub);
    await Promise.all([...this.stopping]);
  }

  private stopSub(id: number, sub: KvEventSubscriber): void {
    this.subs.delete(id);
    const p = sub.stop().finally(() => this.stopping.delete(p));
    this.stopping.add(p);
    this.index.dropPod(id);
  }

  private problem(src: KvEventSource, seen: Map<number, KvEventSource>): string | null {
    if (!Number.isInteger(src.endpointId) || src.endpointId < 0) return 'endpointId must be a non-negative integer';
    if (seen.has(src.endpointId)) return 'duplicate endpointId';
    if (!ADDRESS_RE.test(src.address)) return 'address must be tcp://host:port';
    if (src.replayAddress !== undefined && !ADDRESS_RE.test(src.replayAddress)) return 'replayAddress must be tcp://host:port';
    if (typeof src.topic !== 'string') return 'topic must be a string';
    return null;
  }
}
