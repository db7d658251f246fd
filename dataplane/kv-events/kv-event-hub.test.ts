import * as zmq from 'zeromq';
import { pack } from 'msgpackr';
import { waitFor } from '../../hack/engine-sim/test-helpers';
import { KvEventHub } from './kv-event-hub';
import { kvEventFixture } from './kv-event-fixtures';
import { tokenBlockHashes } from './token-block-hash';

const BS = 4;
/** Tokens of block k of the test prompt. */
const blockTokens = (k: number): number[] => [k * 10 + 1, k * 10 + 2, k * 10 + 3, k * 10 + 4];
const PROMPT = Array.from({ length: 12 }, (_, k) => blockTokens(k)).flat();

/** A current-layout batch storing block k (engine hash k + 1, parent engine hash k; block 0 and `root` start a chain). */
function storeBlock(k: number, root = k === 0): Buffer {
  return pack({
    ts: 1.5,
    events: [{ type: 'BlockStored', block_hashes: [k + 1], parent_block_hash: root ? null : k, token_ids: blockTokens(k), block_size: BS, lora_id: null, medium: 'GPU', lora_name: null }],
    data_parallel_rank: 0,
  });
}

/** Leading blocks of PROMPT that endpoint `id` holds per the hub's index. */
function run(hub: KvEventHub, id: number): number {
  const runs = new Int32Array(8);
  hub.index.match(BS, tokenBlockHashes(PROMPT, BS, 0, 100), runs);
  return runs[id];
}

/**
 * A vLLM-like publisher on loopback: an XPUB socket (wire-compatible with vLLM's PUB; it also
 * reports subscriptions, so a test can wait for the subscriber instead of sleeping) and a replay
 * ROUTER answering from `buffer` as vLLM's _service_replay does.
 */
class TestPublisher {
  readonly pub = new zmq.XPublisher({ linger: 0 });
  readonly router = new zmq.Router({ linger: 0 });
  /** seq -> payload, what the replay socket can serve. */
  readonly buffer = new Map<number, Buffer>();
  address = '';
  replayAddress = '';
  private subscribers = 0;
  replayRequests = 0;

  async start(ip = '127.0.0.1'): Promise<this> {
    await this.pub.bind(`tcp://${ip}:*`);
    await this.router.bind(`tcp://${ip}:*`);
    this.address = this.pub.lastEndpoint as string;
    this.replayAddress = this.router.lastEndpoint as string;
    void this.watchSubscriptions();
    void this.serveReplays();
    return this;
  }

  /** Resolves once a subscriber has subscribed. */
  async subscribed(): Promise<void> {
    await waitFor(() => this.subscribers > 0, 'a subscriber');
  }

  /** Publish live (and keep it for replay). */
  async send(seq: number, payload: Buffer, topic = 'kv'): Promise<void> {
    this.buffer.set(seq, payload);
    await this.pub.send([topic, u64(seq), payload]);
  }

  close(): void {
    this.pub.close();
    this.router.close();
  }

  private async watchSubscriptions(): Promise<void> {
    try {
      for await (const [msg] of this.pub) if (msg[0] === 1) this.subscribers++;
    } catch {
      // closed
    }
  }

  private async serveReplays(): Promise<void> {
    try {
      for await (const [id, , start] of this.router) {
        this.replayRequests++;
        const from = Number(start.readBigUInt64BE(0));
        for (const seq of [...this.buffer.keys()].sort((a, b) => a - b)) {
          if (seq >= from) await this.router.send([id, Buffer.alloc(0), u64(seq), this.buffer.get(seq) as Buffer]);
        }
        const end = Buffer.alloc(8);
        end.writeBigInt64BE(-1n);
        await this.router.send([id, Buffer.alloc(0), end, Buffer.alloc(0)]);
      }
    } catch {
      // closed
    }
  }
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

describe('KvEventHub over real ZMQ on loopback', () => {
  let pubs: TestPublisher[] = [];
  let hubs: KvEventHub[] = [];
  let clock = 1_000_000;
  const newHub = (opts: ConstructorParameters<typeof KvEventHub>[0] = {}): KvEventHub => {
    const h = new KvEventHub({ now: () => clock, replayTimeoutMs: 2000, ...opts });
    hubs.push(h);
    return h;
  };
  const newPub = async (): Promise<TestPublisher> => {
    const p = await new TestPublisher().start();
    pubs.push(p);
    return p;
  };

  afterEach(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    for (const p of pubs) p.close();
    hubs = [];
    pubs = [];
  });

  it('loads zeromq only when a source is first listed', () => {
    let loads = 0;
    const hub = newHub({ loadZmq: () => { loads++; return zmq; } });
    hub.sync([]);
    expect(loads).toBe(0);
    hub.sync([{ endpointId: 0, address: 'tcp://127.0.0.1:1', topic: '' }]);
    hub.sync([{ endpointId: 0, address: 'tcp://127.0.0.1:1', topic: '' }, { endpointId: 1, address: 'tcp://127.0.0.1:2', topic: '' }]);
    expect(loads).toBe(1);
  });

  it('fills the index from a msgspec fixture and goes live', async () => {
    const pub = await newPub();
    const hub = newHub();
    hub.sync([{ endpointId: 2, address: pub.address, topic: 'kv' }]);
    expect(hub.state(2)).toBe('connecting');
    await pub.subscribed();
    // v1-bytes-dp-rank: 2 GPU blocks stored, 1 CPU block (ignored), then one GPU block removed.
    await pub.send(0, kvEventFixture('v1-bytes-dp-rank'));
    await waitFor(() => hub.counters.batches === 1, 'the batch');
    expect(hub.state(2)).toBe('live');
    expect(hub.index.podBlocks(2)).toBe(1);
    expect(hub.counters.events).toBe(3);
  });

  it('replays a skipped seq and applies it before the live batch', async () => {
    const pub = await newPub();
    const hub = newHub();
    hub.sync([{ endpointId: 0, address: pub.address, topic: '', replayAddress: pub.replayAddress }]);
    await pub.subscribed();
    await pub.send(0, storeBlock(0));
    await waitFor(() => hub.counters.batches === 1, 'batch 0');
    pub.buffer.set(1, storeBlock(1)); // lost on the live path, still buffered by the engine
    pub.buffer.set(2, storeBlock(2));
    await pub.send(3, storeBlock(3));
    await pub.send(4, storeBlock(4));
    await waitFor(() => hub.counters.batches === 5, 'batches 1..4');
    expect(run(hub, 0)).toBe(5); // chained in order: every parent arrived before its child
    expect(hub.counters).toMatchObject({ gaps: 1, replays: 1, replayFailures: 0, unchained: 0 });
    expect(hub.state(0)).toBe('live');
  });

  it('clears the pod and marks it stale on a gap without replay, then live again', async () => {
    const pub = await newPub();
    const hub = newHub({ staleMs: 30_000 });
    hub.sync([{ endpointId: 1, address: pub.address, topic: '' }]);
    await pub.subscribed();
    await pub.send(0, storeBlock(0));
    await pub.send(1, storeBlock(1));
    await waitFor(() => run(hub, 1) === 2, 'blocks 0 and 1');
    await pub.send(3, storeBlock(3)); // seq 2 lost: its BlockRemoved could have been anything
    await waitFor(() => hub.counters.batches === 3, 'batch 3');
    expect(hub.state(1)).toBe('stale');
    expect(hub.index.podBlocks(1)).toBe(0);
    expect(hub.counters).toMatchObject({ gaps: 1, unchained: 1 });
    clock += 30_000;
    await pub.send(4, storeBlock(0));
    await waitFor(() => hub.counters.batches === 4, 'batch 4');
    expect(hub.state(1)).toBe('live');
    expect(run(hub, 1)).toBe(1);
  });

  it('marks the pod stale when the replay no longer has the missing batch', async () => {
    const pub = await newPub();
    const hub = newHub();
    hub.sync([{ endpointId: 0, address: pub.address, topic: '', replayAddress: pub.replayAddress }]);
    await pub.subscribed();
    await pub.send(0, storeBlock(0));
    await waitFor(() => hub.counters.batches === 1, 'batch 0');
    pub.buffer.set(2, storeBlock(2)); // seq 1 dropped from the engine's buffer too
    await pub.send(3, storeBlock(3));
    await waitFor(() => hub.counters.replayFailures === 1 && hub.counters.batches === 2, 'the failed replay');
    expect(hub.state(0)).toBe('stale');
    expect(run(hub, 0)).toBe(0);
  });

  it('treats a sequence going back as an engine restart', async () => {
    const pub = await newPub();
    const hub = newHub();
    hub.sync([{ endpointId: 0, address: pub.address, topic: '' }]);
    await pub.subscribed();
    await pub.send(0, storeBlock(0));
    await pub.send(1, storeBlock(1));
    await waitFor(() => run(hub, 0) === 2, 'blocks 0 and 1');
    await pub.send(0, storeBlock(5, true)); // new stream: a root block with other tokens
    await waitFor(() => hub.counters.restarts === 1 && hub.counters.batches === 3, 'the restart');
    expect(run(hub, 0)).toBe(0);
    expect(hub.index.podBlocks(0)).toBe(1);
    expect(hub.state(0)).toBe('live');
  });

  it('counts and drops a malformed payload, staying in sequence', async () => {
    const pub = await newPub();
    const hub = newHub();
    hub.sync([{ endpointId: 0, address: pub.address, topic: '' }]);
    await pub.subscribed();
    await pub.send(0, storeBlock(0));
    await pub.send(1, Buffer.from('not msgpack at all'));
    await pub.send(2, storeBlock(1));
    await waitFor(() => hub.counters.batches === 2, 'batches 0 and 2');
    expect(hub.counters).toMatchObject({ decodeErrors: 1, gaps: 0 });
    expect(run(hub, 0)).toBe(2);
  });

  it('keeps a pod that publishes nothing in connecting', async () => {
    const quiet = await newPub();
    const busy = await newPub();
    const hub = newHub();
    hub.sync([
      { endpointId: 0, address: quiet.address, topic: '' },
      { endpointId: 1, address: busy.address, topic: '' },
      { endpointId: 2, address: 'tcp://127.0.0.1:9', topic: '' }, // nothing listens there
    ]);
    await busy.subscribed();
    await busy.send(0, storeBlock(0));
    await waitFor(() => hub.state(1) === 'live', 'the busy pod live');
    expect([hub.state(0), hub.state(2)]).toEqual(['connecting', 'connecting']);
  });

  it('drops the subscription and the index entries of a pod sync() no longer lists', async () => {
    const a = await newPub();
    const b = await newPub();
    const hub = newHub();
    const srcA = { endpointId: 0, address: a.address, topic: '' };
    hub.sync([srcA, { endpointId: 1, address: b.address, topic: '' }]);
    await a.subscribed();
    await b.subscribed();
    await a.send(0, storeBlock(0));
    await b.send(0, storeBlock(0));
    await waitFor(() => run(hub, 0) === 1 && run(hub, 1) === 1, 'both pods');
    hub.sync([srcA]);
    expect(hub.state(1)).toBe('none');
    expect(hub.index.podBlocks(1)).toBe(0);
    expect(run(hub, 1)).toBe(0);
    await b.send(1, storeBlock(1));
    await a.send(1, storeBlock(1));
    await waitFor(() => run(hub, 0) === 2, 'pod 0 still fed');
    expect(hub.index.podBlocks(1)).toBe(0);
    expect(hub.state(0)).toBe('live');
  });

  it('skips invalid sources without throwing', () => {
    const hub = newHub({ loadZmq: () => zmq });
    expect(() => hub.sync([
      { endpointId: -1, address: 'tcp://127.0.0.1:1', topic: '' },
      { endpointId: 0, address: 'http://x', topic: '' },
    ])).not.toThrow();
    expect(hub.state(0)).toBe('none');
  });
});
