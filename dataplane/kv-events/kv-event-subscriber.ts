/**
 * One pod's KV-event subscription: a ZMQ SUB socket on the pod's vLLM publisher, sequence
 * tracking, replay of missed batches over a DEALER socket, and application to the KvBlockIndex.
 *
 * Wire (vllm/distributed/kv_events.py, ZmqEventPublisher): each message is
 *   [topic, seq as 8-byte big-endian u64, msgpack KVEventBatch];
 * the optional replay ROUTER takes [b"", start seq (8 bytes BE)] from a DEALER and answers
 *   [b"", seq, payload] for every buffered batch with seq >= start, then [b"", -1 (i64 BE), b""].
 *
 * Sequence handling:
 *  - first batch (or first after a restart) with seq > 0 and a replay address: replay [0, seq)
 *    to learn blocks stored before we joined (whatever the engine still buffers; blocks whose
 *    parents are older are skipped by the index as unchained);
 *  - gap (seq > last + 1): replay [last + 1, seq) within replayTimeoutMs, applying the batches in
 *    order before the live one. Live messages that arrive meanwhile wait in the SUB socket's queue
 *    (up to receiveHighWaterMark) and are applied in order after. Without a replay address, or when
 *    the replay times out or no longer has every missing batch, the pod's index is cleared (a lost
 *    BlockRemoved would otherwise leave a phantom block that attracts requests) and the pod is
 *    `stale` for staleMs, while its index refills from new events;
 *  - seq <= last: the engine restarted (its counter starts at 0 again) and its cache is empty:
 *    clear the pod's index and follow the new stream (counted in `restarts`);
 *  - a payload that does not decode is counted and dropped; its seq still counts as received.
 */
import type { Logger } from '../../shared/log/logger';
import { decodeKvEventBatch, MAX_KV_EVENT_PAYLOAD_BYTES } from './kv-event-decoder';
import type { KvBlockIndex } from './kv-block-index';

/** The zeromq module's type, loaded lazily by the hub. */
export type ZmqModule = typeof import('zeromq');

/** Where one pod publishes. */
export interface KvEventSource {
  /** The pod's endpoint id (index into the scorer's arrays). */
  endpointId: number;
  /** PUB address, tcp://ip:port. */
  address: string;
  /** Topic prefix to subscribe to; vLLM's default is "". */
  topic: string;
  /** Replay ROUTER address, tcp://ip:port, when the engine has one. */
  replayAddress?: string;
}

/** Subscription state, as the scorer sees it: only `live` pods are scored from the index. */
export type KvSubscriptionState = 'live' | 'connecting' | 'stale' | 'none';

/** Monotonic counters of subscriptions. */
export interface KvEventCounters {
  batches: number;
  events: number;
  unknownEvents: number;
  decodeErrors: number;
  gaps: number;
  replays: number;
  replayFailures: number;
  restarts: number;
  unchained: number;
}

/** Fresh zeroed counters. */
export function newKvEventCounters(): KvEventCounters {
  return { batches: 0, events: 0, unknownEvents: 0, decodeErrors: 0, gaps: 0, replays: 0, replayFailures: 0, restarts: 0, unchained: 0 };
}

/** Settings shared by a hub's subscriptions. */
export interface KvSubscriberSettings {
  replayTimeoutMs: number;
  staleMs: number;
  receiveHighWaterMark: number;
  now: () => number;
  log: Pick<Logger, 'info' | 'warn'>;
}

/** Room for the topic and seq frames on top of the payload limit. */
const MAX_MESSAGE_BYTES = MAX_KV_EVENT_PAYLOAD_BYTES + 64 * 1024;
const END_OF_REPLAY = -1n;

/** One pod's subscription; start() once, stop() once. */
export class KvEventSubscriber {
  /** This subscription's counters (the hub also keeps totals). */
  readonly counters = newKvEventCounters();
  private sub: InstanceType<ZmqModule['Subscriber']> | null = null;
  private stopped = false;
  private lastSeq = -1;
  private gotBatch = false;
  private staleUntil = 0;
  private loggedState: KvSubscriptionState = 'connecting';
  private loggedDecodeError = false;
  private done: Promise<void> = Promise.resolve();

  /** A subscription that will feed `index` and add to `totals`. */
  constructor(
    readonly source: KvEventSource,
    private readonly zmq: ZmqModule,
    private readonly index: KvBlockIndex,
    private readonly totals: KvEventCounters,
    private readonly s: KvSubscriberSettings,
  ) {}

  /** Connect and start receiving (ZMQ reconnects by itself if the pod is not up yet). */
  start(): void {
    const sub = new this.zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: this.s.receiveHighWaterMark,
      maxMessageSize: MAX_MESSAGE_BYTES,
      reconnectInterval: 100,
      reconnectMaxInterval: 5000,
    });
    this.sub = sub;
    try {
      sub.connect(this.source.address);
      sub.subscribe(this.source.topic);
    } catch (e) {
      this.s.log.warn({ endpointId: this.source.endpointId, address: this.source.address, err: (e as Error).message }, 'kv-events: cannot subscribe');
      this.stopped = true;
      sub.close();
      return;
    }
    this.done = this.run(sub);
  }

  /** Close the sockets; resolves when the receive loop has ended. */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.sub?.close();
    }
    return this.done;
  }

  /** Current state (see KvSubscriptionState). */
  state(): KvSubscriptionState {
    if (this.stopped) return 'none';
    if (!this.gotBatch) return 'connecting';
    return this.s.now() < this.staleUntil ? 'stale' : 'live';
  }

  /** Debug view of this subscription. */
  dump(): Record<string, unknown> {
    return { ...this.source, state: this.state(), lastSeq: this.lastSeq, blocks: this.index.podBlocks(this.source.endpointId), counters: { ...this.counters } };
  }

  private bump(name: keyof KvEventCounters, n = 1): void {
    this.counters[name] += n;
    this.totals[name] += n;
  }

  private async run(sub: InstanceType<ZmqModule['Subscriber']>): Promise<void> {
    // Bounded by stop(): closing the socket makes the pending receive() reject.
    while (!this.stopped) {
      let frames: Buffer[];
      try {
        frames = await sub.receive();
      } catch (e) {
        if (this.stopped) return;
        this.s.log.warn({ endpointId: this.source.endpointId, err: (e as Error).message }, 'kv-events: receive failed; subscription ends');
        this.stopped = true;
        sub.close();
        return;
      }
      try {
        await this.handle(frames);
      } catch (e) {
        // handle() catches what it expects; anything else must not kill the loop.
        this.decodeError(`unexpected: ${(e as Error).message}`);
      }
    }
  }

  private async handle(frames: Buffer[]): Promise<void> {
    if (frames.length !== 3 || frames[1].length !== 8) {
      this.decodeError(`expected [topic, 8-byte seq, payload], got ${frames.length} frames`);
      return;
    }
    const seq = Number(frames[1].readBigUInt64BE(0));
    const id = this.source.endpointId;
    if (this.lastSeq >= 0 && seq <= this.lastSeq) {
      this.bump('restarts');
      this.index.clearPod(id);
      this.s.log.info({ endpointId: id, lastSeq: this.lastSeq, seq }, 'kv-events: sequence went back, engine restarted; pod index cleared');
      this.lastSeq = -1;
    }
    if (this.lastSeq < 0) {
      if (seq > 0 && this.source.replayAddress) await this.replay(0, seq - 1, false);
    } else if (seq > this.lastSeq + 1) {
      this.bump('gaps');
      const filled = this.source.replayAddress ? await this.replay(this.lastSeq + 1, seq - 1, true) : false;
      if (this.stopped) return;
      if (!filled) {
        this.index.clearPod(id);
        this.staleUntil = this.s.now() + this.s.staleMs;
      }
    }
    if (this.stopped) return;
    this.apply(seq, frames[2]);
  }

  /**
   * Fetch and apply batches [from, to] from the replay socket. `strict`: every one must come,
   * in order (a gap); otherwise whatever the engine still buffers is applied (joining).
   * Returns whether the range was filled.
   */
  private async replay(from: number, to: number, strict: boolean): Promise<boolean> {
    this.bump('replays');
    const dealer = new this.zmq.Dealer({ linger: 0, maxMessageSize: MAX_MESSAGE_BYTES, receiveHighWaterMark: 0 });
    const deadline = this.s.now() + this.s.replayTimeoutMs;
    let next = from;
    let ok = false;
    try {
      dealer.connect(this.source.replayAddress as string);
      const start = Buffer.alloc(8);
      start.writeBigUInt64BE(BigInt(from));
      await dealer.send([Buffer.alloc(0), start]);
      // Bounded by the deadline: every receive waits at most the time left.
      for (;;) {
        const left = deadline - this.s.now();
        if (left <= 0 || this.stopped) break;
        dealer.receiveTimeout = left;
        const frames = await dealer.receive();
        if (frames.length !== 3 || frames[1].length !== 8) continue;
        const seq = frames[1].readBigInt64BE(0);
        if (seq === END_OF_REPLAY) {
          ok = !strict || next === to + 1;
          break;
        }
        const n = Number(seq);
        if (n < next || n > to) continue; // already applied, or the live message itself and later
        if (strict && n !== next) break; // the engine no longer buffers the batch we need
        this.apply(n, frames[2]);
        next = n + 1;
      }
    } catch {
      // Timed out (EAGAIN) or the socket failed: counted below; the stale transition is logged.
    } finally {
      dealer.close();
    }
    if (!ok) this.bump('replayFailures');
    return ok;
  }

  private apply(seq: number, payload: Buffer): void {
    this.lastSeq = seq;
    let batch;
    try {
      batch = decodeKvEventBatch(payload);
    } catch (e) {
      this.decodeError((e as Error).message);
      return;
    }
    const res = this.index.apply(this.source.endpointId, batch);
    this.bump('batches');
    this.bump('events', batch.events.length);
    if (batch.unknownEvents > 0) this.bump('unknownEvents', batch.unknownEvents);
    if (res.unchained > 0) this.bump('unchained', res.unchained);
    this.gotBatch = true;
    this.noteState();
  }

  private decodeError(message: string): void {
    this.bump('decodeErrors');
    if (this.loggedDecodeError) return;
    this.loggedDecodeError = true;
    this.s.log.warn({ endpointId: this.source.endpointId, err: message }, 'kv-events: dropped a malformed message');
  }

  /** Log a state change once; a new state re-arms the decode-error log. */
  private noteState(): void {
    const st = this.state();
    if (st === this.loggedState) return;
    this.s.log.info({ endpointId: this.source.endpointId, address: this.source.address, from: this.loggedState, to: st }, 'kv-events: subscription state');
    this.loggedState = st;
    this.loggedDecodeError = false;
  }
}
