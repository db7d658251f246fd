import * as zmq from 'zeromq';
import { decodeKvEventBatch } from '../../dataplane/kv-events/kv-event-decoder';
import { parsePodSpec } from './cli-args';
import { KvEventsPublisher } from './kv-events-publisher';
import { startEngineSim } from './simulator';
import { waitFor } from './test-helpers';

describe('KvEventsPublisher', () => {
  let pub: KvEventsPublisher;
  let sub: zmq.Subscriber;
  const got: Buffer[][] = [];

  beforeEach(async () => {
    got.length = 0;
    pub = new KvEventsPublisher('127.0.0.1', { port: 0, replayPort: 0, topic: 't' }, 4);
    await pub.bind();
    sub = new zmq.Subscriber({ linger: 0 });
    sub.connect(pub.address);
    sub.subscribe('t');
    void (async () => {
      try {
        for await (const m of sub) got.push(m);
      } catch {
        // closed
      }
    })();
    // PUB/SUB has no delivery before the subscription arrives: publish probes until one lands.
    await waitFor(() => {
      if (got.length > 0) return true;
      pub.cleared();
      return false;
    }, 'the subscription');
    // Probes sent before the subscription are lost for good; wait for the last one sent to land.
    const lastSeq = (): number => Number(got[got.length - 1][1].readBigUInt64BE(0));
    await waitFor(() => lastSeq() === pub.published - 1, 'the last probe');
    got.length = 0;
  });

  afterEach(async () => {
    sub.close();
    await pub.close();
  });

  it('publishes the events of one step as one batch, with consecutive seqs', async () => {
    const seq0 = pub.published;
    pub.beginStep();
    pub.stored(['00000000000000aa', '00000000000000bb'], null, [1, 2, 3, 4, 5, 6, 7, 8], null);
    pub.removed('00000000000000cc');
    pub.stored(['00000000000000dd'], '00000000000000bb', [9, 10, 11, 12], 'sql');
    expect(pub.published).toBe(seq0); // held until the step ends
    pub.endStep();
    pub.beginStep();
    pub.endStep(); // an empty step publishes nothing
    pub.cleared(); // outside a step: published on the next tick
    await waitFor(() => got.length === 2, 'two batches');
    const [first, second] = got;
    expect(first[0].toString()).toBe('t');
    expect(Number(first[1].readBigUInt64BE(0))).toBe(seq0);
    expect(Number(second[1].readBigUInt64BE(0))).toBe(seq0 + 1);
    const b = decodeKvEventBatch(first[2]);
    expect(b.dpRank).toBe(0);
    expect(b.events).toEqual([
      { type: 'BlockStored', blockHashes: ['0x00000000000000aa', '0x00000000000000bb'], parentBlockHash: null, tokenIds: [1, 2, 3, 4, 5, 6, 7, 8], blockSize: 4, loraId: null, loraName: null, medium: 'GPU', groupIdx: null },
      { type: 'BlockRemoved', blockHashes: ['0x00000000000000cc'], medium: 'GPU', groupIdx: null },
      { type: 'BlockStored', blockHashes: ['0x00000000000000dd'], parentBlockHash: '0x00000000000000bb', tokenIds: [9, 10, 11, 12], blockSize: 4, loraId: 1, loraName: 'sql', medium: 'GPU', groupIdx: null },
    ]);
    expect(decodeKvEventBatch(second[2]).events).toEqual([{ type: 'AllBlocksCleared' }]);
  });

  it('serves replays from its buffer and ends with seq -1', async () => {
    pub.cleared();
    await waitFor(() => got.length === 1, 'a batch');
    const last = pub.published - 1;
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 5000 });
    dealer.connect(pub.replayAddress as string);
    try {
      const start = Buffer.alloc(8);
      start.writeBigUInt64BE(BigInt(last - 1));
      await dealer.send([Buffer.alloc(0), start]);
      const seqs: bigint[] = [];
      // Bounded: the publisher sends at most its buffer and the end marker; receiveTimeout bounds each wait.
      for (;;) {
        const [empty, seq, payload] = await dealer.receive();
        expect(empty.length).toBe(0);
        seqs.push(seq.readBigInt64BE(0));
        if (seqs[seqs.length - 1] === -1n) {
          expect(payload.length).toBe(0);
          break;
        }
        expect(() => decodeKvEventBatch(payload)).not.toThrow();
      }
      expect(seqs).toEqual([BigInt(last - 1), BigInt(last), -1n]);
    } finally {
      dealer.close();
    }
  });
});

describe('kvEvents pod option', () => {
  it.each([
    ['port only', 'name=a,model=m,kv-events-port=5557', { port: 5557 }],
    ['port, replay and topic', 'name=a,model=m,kv-events-port=0,kv-replay-port=5558,kv-topic=kv@a', { port: 0, replayPort: 5558, topic: 'kv@a' }],
    ['none', 'name=a,model=m', undefined],
  ])('parses %s', (_what, text, want) => {
    expect(parsePodSpec(text).kvEvents).toEqual(want);
  });

  it('rejects replay or topic without a port, and bad ports', async () => {
    expect(() => parsePodSpec('name=a,model=m,kv-topic=x')).toThrow(/need kv-events-port/);
    await expect(startEngineSim({ pods: [{ name: 'a', ip: '127.0.0.1', port: 0, model: 'm', kvEvents: { port: 70000 } }] })).rejects.toThrow(/bad kvEvents.port/);
  });

  it('leaves a pod without the option unchanged: no publisher, no kvEvents in its info', async () => {
    const sim = await startEngineSim({ pods: [{ name: 'a', ip: '127.0.0.1', port: 0, model: 'm' }] });
    try {
      expect(sim.pods[0].kvEvents).toBeNull();
      expect(sim.pods[0].info().kvEvents).toBeUndefined();
      expect(sim.pods[0].engine.kv.events).toBeNull();
    } finally {
      await sim.close();
    }
  });
});
