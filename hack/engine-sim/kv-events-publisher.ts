/**
 * A simulated pod's vLLM KV-event publisher (vllm/distributed/kv_events.py, ZmqEventPublisher):
 *  - a ZMQ PUB socket bound on tcp://<pod ip>:<port> sends [topic, seq (u64 BE), payload] per
 *    batch, seq counting from 0;
 *  - an optional ROUTER on tcp://<pod ip>:<replayPort> answers [b"", start seq] with
 *    [b"", seq, payload] for every buffered batch with seq >= start, then [b"", -1 (i64 BE), b""];
 *    it keeps the last `bufferSteps` batches (vLLM's default 10,000).
 * Events come from the pod's real prefix cache (kv-cache.ts): BlockStored when full blocks are
 * registered, BlockRemoved when a cached block is evicted or forgotten, AllBlocksCleared when a
 * reset leaves nothing cached. The events of one engine step form one KVEventBatch, published when
 * the step ends; events outside a step (a reset from the HTTP API) are published on the next tick.
 * Block hashes are the simulator's 16-hex-digit chain hashes as 8 bytes; lora_name is the adapter
 * name and lora_id its 1-based order of first use on this pod (vLLM's load-order id).
 * zeromq is loaded on bind(), so simulators without KV events never load the native addon.
 */
import type { KvStepEvents } from './kv-cache';
import { encodeKvEventBatch, type KvEventLayout, type SimKvEvent } from './kv-events-encoder';

/** `kvEvents` of a pod spec. */
export interface KvEventsSpec {
  /** PUB port (vLLM's default 5557); 0 picks a free one. */
  port: number;
  /** Replay ROUTER port; none when unset; 0 picks a free one. */
  replayPort?: number;
  /** Topic frame of every message (vLLM's default ""). */
  topic?: string;
}

/** Options beyond the spec (tests). */
export interface KvEventsPublisherOptions {
  /** Batches kept for replay (default 10,000). */
  bufferSteps?: number;
  /** Wire layout (default `map`, current vLLM). */
  layout?: KvEventLayout;
}

type ZmqModule = typeof import('zeromq');

/** The publisher of one pod. */
export class KvEventsPublisher implements KvStepEvents {
  /** Bound PUB address (tcp://ip:port) after bind(). */
  address = '';
  /** Bound replay address after bind(), or null without a replay port. */
  replayAddress: string | null = null;
  /** Topic frame of every message. */
  readonly topic: string;
  /** Batches published so far (the next seq). */
  published = 0;
  private pub: InstanceType<ZmqModule['Publisher']> | null = null;
  private router: InstanceType<ZmqModule['Router']> | null = null;
  private readonly bufferSteps: number;
  private readonly layout: KvEventLayout;
  private readonly buffer: Array<{ seq: number; payload: Buffer }> = [];
  private pending: SimKvEvent[] = [];
  private inStep = false;
  private tickFlush: NodeJS.Immediate | null = null;
  private sending: Promise<void> = Promise.resolve();
  private readonly loraIds = new Map<string, number>();
  private closed = false;

  /** A publisher for a pod on `ip` whose blocks hold `blockSize` tokens; call bind(). */
  constructor(
    private readonly ip: string,
    private readonly spec: KvEventsSpec,
    private readonly blockSize: number,
    opts: KvEventsPublisherOptions = {},
  ) {
    this.topic = spec.topic ?? '';
    this.bufferSteps = opts.bufferSteps ?? 10_000;
    this.layout = opts.layout ?? 'map';
  }

  /** Bind the sockets; rejects when a port is taken. */
  async bind(): Promise<void> {
    const zmq = require('zeromq') as ZmqModule;
    const port = (p: number): string => (p === 0 ? '*' : String(p));
    this.pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 100_000 });
    await this.pub.bind(`tcp://${this.ip}:${port(this.spec.port)}`);
    this.address = this.pub.lastEndpoint as string;
    if (this.spec.replayPort !== undefined) {
      this.router = new zmq.Router({ linger: 0 });
      await this.router.bind(`tcp://${this.ip}:${port(this.spec.replayPort)}`);
      this.replayAddress = this.router.lastEndpoint as string;
      void this.serveReplays(this.router);
    }
  }

  /** Close the sockets (pending events are dropped, as when vLLM's process exits). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tickFlush) clearImmediate(this.tickFlush);
    await this.sending;
    this.pub?.close();
    this.router?.close();
  }

  /** KvCacheEvents: full blocks registered. */
  stored(hashes: readonly string[], parent: string | null, tokens: readonly number[], lora: string | null): void {
    let loraId: number | null = null;
    if (lora !== null) {
      loraId = this.loraIds.get(lora) ?? this.loraIds.size + 1;
      this.loraIds.set(lora, loraId);
    }
    this.push({
      type: 'BlockStored', blockHashes: hashes.map(hashBytes), parentBlockHash: parent === null ? null : hashBytes(parent),
      tokenIds: tokens, blockSize: this.blockSize, loraId, medium: 'GPU', loraName: lora,
    });
  }

  /** KvCacheEvents: a cached block was dropped (vLLM sends one BlockRemoved per block). */
  removed(hash: string): void {
    this.push({ type: 'BlockRemoved', blockHashes: [hashBytes(hash)], medium: 'GPU' });
  }

  /** KvCacheEvents: nothing is cached any more. */
  cleared(): void {
    this.push({ type: 'AllBlocksCleared' });
  }

  /** An engine step starts: hold events until it ends. */
  beginStep(): void {
    this.inStep = true;
  }

  /** An engine step ended: publish its events as one batch. */
  endStep(): void {
    this.inStep = false;
    this.flush();
  }

  private push(e: SimKvEvent): void {
    if (this.closed) return;
    this.pending.push(e);
    if (!this.inStep && !this.tickFlush) {
      this.tickFlush = setImmediate(() => {
        this.tickFlush = null;
        if (!this.inStep) this.flush();
      });
    }
  }

  /** Publish pending events as one batch (none: nothing is sent, as vLLM skips empty steps). */
  private flush(): void {
    if (this.pending.length === 0 || this.closed || !this.pub) return;
    const payload = encodeKvEventBatch(Date.now() / 1000, this.pending, 0, this.layout);
    this.pending = [];
    const seq = this.published++;
    this.buffer.push({ seq, payload });
    if (this.buffer.length > this.bufferSteps) this.buffer.shift();
    const pub = this.pub;
    const frames = [Buffer.from(this.topic), u64(seq), payload];
    // zeromq allows one send in flight per socket: chain them. PUB drops at its high-water mark.
    this.sending = this.sending.then(() => pub.send(frames)).catch(() => undefined);
  }

  private async serveReplays(router: InstanceType<ZmqModule['Router']>): Promise<void> {
    try {
      // Ends when close() closes the socket.
      for await (const frames of router) {
        if (frames.length !== 3 || frames[2].length !== 8) continue; // vLLM ignores malformed requests too
        const [id, , start] = frames;
        const from = Number(start.readBigUInt64BE(0));
        for (const b of this.buffer.slice()) if (b.seq >= from) await router.send([id, Buffer.alloc(0), u64(b.seq), b.payload]);
        await router.send([id, Buffer.alloc(0), END_SEQ, Buffer.alloc(0)]);
      }
    } catch {
      // Socket closed.
    }
  }
}

const END_SEQ = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** The simulator's chain hash (16 hex digits) as the 8 bytes vLLM-style consumers receive. */
export function hashBytes(hash: string): Buffer {
  return Buffer.from(hash, 'hex');
}
