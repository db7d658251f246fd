/**
 * The scraper against the engine simulator in-process: one pod per engine flavour, each read by
 * its adapter through a real EndpointRegistry pool. Short: a handful of requests at timeScale 50.
 */
import { EndpointRegistry, type Endpoint } from '../proxy/endpoint-registry';
import { startEngineSim, type EngineSimHandle } from '../../hack/engine-sim/simulator';
import { waitFor } from '../../hack/engine-sim/test-helpers';
import type { EngineMetrics } from './engine-metrics';
import { MetricsScraper } from './metrics-scraper';

describe('MetricsScraper against the engine simulator', () => {
  let sim: EngineSimHandle;
  let registry: EndpointRegistry;
  let scraper: MetricsScraper;
  const requests: Promise<unknown>[] = [];

  beforeAll(async () => {
    sim = await startEngineSim({
      pods: [
        { name: 'v', ip: '127.25.0.1', port: 0, model: 'base', engine: 'vllm', loras: ['lora-a'] },
        { name: 's', ip: '127.25.0.2', port: 0, model: 'base', engine: 'sglang' },
        { name: 't', ip: '127.25.0.3', port: 0, model: 'base', engine: 'tgi' },
      ],
      timeScale: 50,
      // Two batch slots so four requests show as 2 running + 2 waiting; a small pool so KV use shows.
      profile: { maxNumSeqs: 2, numGpuBlocks: 1024 },
    });
    registry = new EndpointRegistry({ connections: 4, connectTimeoutMs: 500 });
    scraper = new MetricsScraper(registry, { intervalMs: 50, timeoutMs: 500, staleAfterMs: 300, modelsIntervalMs: 200 });
    scraper.start();
  });

  afterAll(async () => {
    await Promise.allSettled(requests);
    await scraper.stop();
    await registry.close();
    await sim.close();
  });

  const cases: Array<[string, 'vLLM' | 'SGLang' | 'TGI', number]> = [
    ['vLLM', 'vLLM', 0],
    ['SGLang', 'SGLang', 1],
    ['TGI', 'TGI', 2],
  ];

  it.each(cases)('%s: running, waiting, KV use and latencies show up', async (_what, engine, i) => {
    const pod = sim.pods[i]!;
    const ep = registry.acquire(`default/${pod.name}`, pod.url, engine);
    await waitFor(() => ep.metrics.scrapedAt > 0 && !ep.metrics.stale, `${engine} first scrape`);

    const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(40); // ~450 tokens
    for (let k = 0; k < 4; k++) {
      requests.push(
        fetch(`${pod.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'base', prompt: `${k} ${prompt}`, max_tokens: 150, ignore_eos: true }),
        }).then((r) => r.text()),
      );
    }
    const show = (m: EngineMetrics) => JSON.stringify({ r: m.running, w: m.waiting, kv: m.kvUsage, ttft: m.ttftSeconds, tpot: m.tpotSeconds });
    await waitFor(() => ep.metrics.running === 2 && ep.metrics.waiting === 2, `${engine} 2 running + 2 waiting (${show(ep.metrics)})`);
    if (engine !== 'TGI') expect(ep.metrics.kvUsage).toBeGreaterThan(0); // TGI exports no KV gauge
    // TGI's TTFT is queue time (+ prefill, which the simulator does not export): 0 for the two
    // requests admitted at once, positive once the queued pair is admitted.
    await waitFor(() => (ep.metrics.ttftSeconds ?? 0) > 0 && ep.metrics.tpotSeconds !== null, `${engine} TTFT and TPOT (${show(ep.metrics)})`);
    expect(ep.metrics.tpotSeconds).toBeGreaterThan(0);
    // Sanity of magnitude: simulated TPOT ≈ decodeBaseMs 12 ms + a little per sequence.
    expect(ep.metrics.tpotSeconds!).toBeLessThan(1);
  });

  it('vLLM: LoRA state merges /v1/models adapters with lora_requests_info, block size from cache_config_info', async () => {
    const ep = [...registry.all()].find((e) => e.engine === 'vLLM')!;
    await waitFor(() => ep.metrics.lora?.maxLoras === 4, `lora state (${JSON.stringify(ep.metrics.lora)})`);
    expect(ep.metrics.lora!.registered).toContain('lora-a');
    expect(ep.metrics.blockSize).toBe(16);
  });

  it('an endpoint that stops answering keeps its values and goes stale; one where nothing listens is stale with an error', async () => {
    const sglang = [...registry.all()].find((e) => e.engine === 'SGLang')!;
    await waitFor(() => !sglang.metrics.stale, 'SGLang fresh');
    const lastGood = sglang.metrics.scrapedAt;
    await sim.pods[1]!.close();
    await waitFor(() => sglang.metrics.stale, 'SGLang stale after its pod closed', 5000);
    expect(sglang.metrics.lastError).not.toBeNull();
    expect(sglang.metrics.scrapedAt).toBeGreaterThanOrEqual(lastGood);

    const dead: Endpoint = registry.acquire('default/dead', 'http://127.25.0.250:9', 'vLLM');
    await waitFor(() => dead.metrics.lastError !== null, 'error on the dead endpoint');
    expect(dead.metrics.stale).toBe(true);
    const counters = new Map([...scraper.counters()].map(([e, c]) => [e.origin, c]));
    expect(counters.get(dead.origin)!.failed).toBeGreaterThan(0);
    expect(counters.get(dead.origin)!.ok).toBe(0);
  });
});
