/**
 * End to end: the engine simulator publishes vLLM KV events from its real prefix cache, a
 * KvEventHub subscribes, and the index must agree with the simulator's cache, block for block,
 * using tokenBlockHashes over the token ids the simulator used (its stand-in tokenizer).
 */
import { blockHashes } from '../../hack/engine-sim/kv-cache';
import { startEngineSim, type EngineSimHandle } from '../../hack/engine-sim/simulator';
import { postJson, waitFor } from '../../hack/engine-sim/test-helpers';
import { tokenize } from '../../hack/engine-sim/tokenizer';
import { KvEventHub } from './kv-event-hub';
import { loraSeed, tokenBlockHashes } from './token-block-hash';

const BS = 16;

/** A prompt of about `words` distinct-ish words, different per `tag`. */
function prompt(tag: string, words: number): string {
  return Array.from({ length: words }, (_, i) => `${tag}${i}`).join(' ');
}

describe('simulator KV events into KvEventHub', () => {
  let sim: EngineSimHandle;
  let hub: KvEventHub;

  beforeEach(async () => {
    sim = await startEngineSim({
      pods: [{ name: 'kv0', ip: '127.0.0.61', port: 0, model: 'm', loras: ['sql'], kvEvents: { port: 0, replayPort: 0, topic: 'kv@kv0' } }],
      timeScale: 50,
      profile: { blockSize: BS, numGpuBlocks: 40 },
    });
    hub = new KvEventHub();
    const kv = sim.pods[0].info().kvEvents;
    if (!kv) throw new Error('pod has no kvEvents');
    hub.sync([{ endpointId: 0, address: kv.address, topic: kv.topic, replayAddress: kv.replayAddress ?? undefined }]);
  });

  afterEach(async () => {
    await hub.close();
    await sim.close();
  });

  const url = (): string => `${sim.pods[0].url}/v1/completions`;
  const complete = async (text: string, model = 'm'): Promise<void> => {
    const r = await postJson(url(), { model, prompt: text, max_tokens: 1 });
    expect(r.status).toBe(200);
  };
  /** Leading blocks of `text` the index says pod 0 holds. */
  const indexRun = (text: string, lora: string | null = null): number => {
    const runs = new Int32Array(1);
    hub.index.match(BS, tokenBlockHashes(tokenize(text), BS, loraSeed(lora), 1000), runs);
    return runs[0];
  };
  /** Leading blocks of `text` the simulator's cache holds. */
  const simRun = (text: string, lora: string | null = null): number =>
    sim.pods[0].engine.kv.lookup(blockHashes(tokenize(text), BS, lora ? `lora:${lora}` : ''));

  /** PUB/SUB drops what is sent before the subscription is up: warm up until a batch arrives. */
  async function untilLive(): Promise<void> {
    let n = 0;
    await waitFor(async () => {
      if (hub.state(0) === 'live') return true;
      await complete(prompt(`warm${n++}-`, 40));
      return hub.state(0) === 'live';
    }, 'the subscription to go live', 10_000);
  }

  it('indexes a completion\'s prompt blocks and drops them on reset_prefix_cache', async () => {
    await untilLive();
    const text = prompt('alpha', 120);
    const blocks = Math.floor(tokenize(text).length / BS);
    expect(blocks).toBeGreaterThanOrEqual(4);
    await complete(text);
    await waitFor(() => indexRun(text) === blocks, `the index to hold ${blocks} blocks`);
    expect(simRun(text)).toBe(blocks);

    const r = await postJson(`${sim.pods[0].url}/reset_prefix_cache`, {});
    expect(r.status).toBe(200);
    await waitFor(() => indexRun(text) === 0 && hub.index.podBlocks(0) === 0, 'the index to be cleared');
    expect(simRun(text)).toBe(0);
  });

  it('follows evictions: the index matches the simulator\'s cache prompt by prompt', async () => {
    await untilLive();
    const texts = Array.from({ length: 6 }, (_, i) => prompt(`p${i}x`, 100)); // ~12 blocks each, pool 40
    for (const t of texts) await complete(t);
    const evictions = (): number => sim.pods[0].engine.kv.evictions;
    expect(evictions()).toBeGreaterThan(0);
    await waitFor(() => texts.every((t) => indexRun(t) === simRun(t)), 'the index to agree with the cache');
    expect(indexRun(texts[0])).toBeLessThan(Math.floor(tokenize(texts[0]).length / BS)); // evicted
    expect(indexRun(texts[5])).toBe(Math.floor(tokenize(texts[5]).length / BS));
    expect(hub.counters).toMatchObject({ decodeErrors: 0, gaps: 0 });
  });

  it('keys adapter blocks by adapter name', async () => {
    await untilLive();
    const text = prompt('lora', 80);
    await complete(text, 'sql');
    const blocks = Math.floor(tokenize(text).length / BS);
    await waitFor(() => indexRun(text, 'sql') === blocks, 'the adapter blocks');
    expect(indexRun(text, null)).toBe(0);
  });
});
