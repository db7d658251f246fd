/**
 * MetricsScraper against stand-in pools: a fake clock drives staleness and interval means, and
 * deferred responses make concurrency and overlap observable without sleeping.
 */
import { Readable } from 'node:stream';
import type { Pool } from 'undici';
import { Endpoint } from '../proxy/endpoint-registry';
import type { InferenceEngine } from '../../shared/api/model-server';
import { MetricsScraper, type EndpointSource, type MetricsScraperOptions } from './metrics-scraper';

type Reply = { status: number; body: string } | Error | 'hang';

/** A pool whose answers the test scripts per path; `defer` holds answers until released. */
class FakePool {
  readonly calls: string[] = [];
  replies: Record<string, Reply> = {};
  defer = false;
  readonly held: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;

  request(opts: { path: string; signal?: AbortSignal }): Promise<unknown> {
    this.calls.push(opts.path);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const reply = this.replies[opts.path] ?? { status: 404, body: 'not found' };
    return new Promise((resolve, reject) => {
      const answer = () => {
        this.inFlight--;
        if (reply instanceof Error) return reject(reply);
        if (reply === 'hang') return;
        const body = Object.assign(Readable.from([Buffer.from(reply.body)]), { dump: async () => undefined });
        resolve({ statusCode: reply.status, body });
      };
      if (reply === 'hang') {
        opts.signal?.addEventListener('abort', () => {
          this.inFlight--;
          reject(opts.signal!.reason);
        });
        return;
      }
      if (this.defer) this.held.push(answer);
      else answer();
    });
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }
}

class FakeRegistry implements EndpointSource {
  private readonly eps = new Set<Endpoint>();
  private readonly added: ((ep: Endpoint) => void)[] = [];
  private readonly removed: ((ep: Endpoint) => void)[] = [];
  all(): IterableIterator<Endpoint> {
    return this.eps.values();
  }
  onAdded(fn: (ep: Endpoint) => void): void {
    this.added.push(fn);
  }
  onRemoved(fn: (ep: Endpoint) => void): void {
    this.removed.push(fn);
  }
  add(ep: Endpoint): void {
    this.eps.add(ep);
    for (const fn of this.added) fn(ep);
  }
  remove(ep: Endpoint): void {
    this.eps.delete(ep);
    for (const fn of this.removed) fn(ep);
  }
}

let nextId = 0;
function endpoint(engine: InferenceEngine = 'vLLM'): { ep: Endpoint; pool: FakePool } {
  const pool = new FakePool();
  const id = nextId++;
  return { ep: new Endpoint(id, `default/p${id}`, `http://127.0.0.1:${8000 + id}`, engine, pool as unknown as Pool), pool };
}

const vllmMetrics = (running: number, ttftSum = 10, ttftCount = 100) =>
  [
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{engine="0",model_name="m"} ${running}`,
    'vllm:num_requests_waiting{engine="0",model_name="m"} 1',
    'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5',
    `vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} ${ttftSum}`,
    `vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} ${ttftCount}`,
    'vllm:lora_requests_info{max_lora="2",running_lora_adapters="a",waiting_lora_adapters=""} 1.7e9',
  ].join('\n');

const models = (...adapters: string[]) =>
  JSON.stringify({ object: 'list', data: [{ id: 'm', parent: null }, ...adapters.map((id) => ({ id, parent: 'm' }))] });

describe('MetricsScraper', () => {
  let t: number;
  let registry: FakeRegistry;
  let scraper: MetricsScraper;
  const make = (opts: MetricsScraperOptions = {}) => {
    scraper = new MetricsScraper(registry, { intervalMs: 1_000_000, now: () => t, ...opts });
    return scraper;
  };

  beforeEach(() => {
    t = 1_000_000;
    registry = new FakeRegistry();
  });
  afterEach(async () => {
    await scraper?.stop();
  });

  it('publishes a fresh object on success and leaves the old one untouched', async () => {
    make();
    const { ep, pool } = endpoint();
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(3) };
    registry.add(ep);
    const before = ep.metrics;
    await scraper.scrapeNow(ep);
    expect(ep.metrics).not.toBe(before);
    expect(before.stale).toBe(true);
    expect(ep.metrics).toMatchObject({ running: 3, waiting: 1, kvUsage: 0.5, stale: false, scrapedAt: t, lastError: null, ttftSeconds: null });
    expect(ep.metrics.lora).toEqual({ active: ['a'], waiting: [], maxLoras: 2 });
  });

  it('computes TTFT from the delta between two scrapes', async () => {
    make();
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(1, 10, 100) };
    await scraper.scrapeNow(ep);
    t += 1000;
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(1, 12.5, 105) };
    await scraper.scrapeNow(ep);
    expect(ep.metrics.ttftSeconds).toBeCloseTo(0.5, 12);
  });

  it('keeps the last values on failure and goes stale only after staleAfterMs', async () => {
    make({ staleAfterMs: 3000 });
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(5) };
    await scraper.scrapeNow(ep);
    const okAt = t;
    pool.replies['/metrics'] = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
    const steps: Array<[number, boolean]> = [
      [1000, false],
      [3000, false], // exactly staleAfterMs: not yet
      [3001, true],
      [9000, true],
    ];
    for (const [dt, stale] of steps) {
      t = okAt + dt;
      await scraper.scrapeNow(ep);
      expect({ dt, stale: ep.metrics.stale, running: ep.metrics.running, scrapedAt: ep.metrics.scrapedAt }).toEqual({ dt, stale, running: 5, scrapedAt: okAt });
      expect(ep.metrics.lastError).toMatch(/ECONNREFUSED/);
    }
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(2) };
    await scraper.scrapeNow(ep);
    expect(ep.metrics).toMatchObject({ stale: false, running: 2, lastError: null, scrapedAt: t });
    const [[, counters]] = [...scraper.counters()];
    expect(counters).toMatchObject({ ok: 2, failed: 4 });
    expect(scraper.totalFailed).toBe(4);
  });

  it.each<[string, Reply, RegExp]>([
    ['HTTP error', { status: 503, body: 'overloaded' }, /HTTP 503/],
    ['a body without the engine gauges', { status: 200, body: 'process_cpu_seconds_total 12\n' }, /no vLLM request gauges/],
  ])('%s counts as a failure', async (_what, reply, message) => {
    make();
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = reply;
    await scraper.scrapeNow(ep);
    expect(ep.metrics.lastError).toMatch(message);
    expect(ep.metrics.scrapedAt).toBe(0);
  });

  it('merges adapters from /v1/models, fetched at most every modelsIntervalMs', async () => {
    make({ modelsIntervalMs: 5000 });
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(1) };
    pool.replies['/v1/models'] = { status: 200, body: models('a', 'b') };
    await scraper.scrapeNow(ep);
    expect(ep.metrics.lora).toEqual({ active: ['a'], waiting: [], maxLoras: 2, registered: ['a', 'b'] });
    t += 1000;
    pool.replies['/v1/models'] = { status: 200, body: models('c') };
    await scraper.scrapeNow(ep);
    expect(ep.metrics.lora!.registered).toEqual(['a', 'b']); // not refetched yet
    t += 4000;
    pool.replies['/v1/models'] = new Error('socket hang up');
    await scraper.scrapeNow(ep);
    expect(ep.metrics.lora!.registered).toEqual(['a', 'b']); // failure keeps the last list
    expect(ep.metrics.stale).toBe(false);
    t += 5000;
    pool.replies['/v1/models'] = { status: 200, body: models('c') };
    await scraper.scrapeNow(ep);
    expect(ep.metrics.lora!.registered).toEqual(['c']);
    expect(pool.calls.filter((p) => p === '/v1/models')).toHaveLength(3);
  });

  it('never runs two scrapes of one endpoint at once', async () => {
    make();
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(1) };
    pool.replies['/v1/models'] = { status: 200, body: models() };
    pool.defer = true;
    const a = scraper.scrapeNow(ep);
    const b = scraper.scrapeNow(ep);
    expect(b).toBe(a);
    const deadline = Date.now() + 5000;
    while (pool.held.length === 0 || pool.calls.length < 2) {
      if (Date.now() > deadline) throw new Error(`stuck: ${pool.calls.join(',')}`);
      pool.release();
      await new Promise((r) => setImmediate(r));
    }
    pool.release();
    await a;
    expect(pool.calls).toEqual(['/v1/models', '/metrics']);
  });

  it('bounds concurrency and scrapes every endpoint once per tick', async () => {
    make({ concurrency: 2 });
    const shared = new FakePool();
    shared.replies['/metrics'] = { status: 200, body: vllmMetrics(1) };
    shared.defer = true;
    const eps = [0, 1, 2, 3, 4].map((i) => new Endpoint(100 + i, `p${i}`, `http://127.0.0.1:${9000 + i}`, 'vLLM', shared as unknown as Pool));
    for (const ep of eps) registry.add(ep);
    scraper.start();
    const deadline = Date.now() + 5000;
    while (eps.some((ep) => ep.metrics.scrapedAt === 0)) {
      if (Date.now() > deadline) throw new Error('endpoints were not all scraped');
      shared.release();
      await new Promise((r) => setImmediate(r));
    }
    expect(shared.maxInFlight).toBe(2);
    expect(shared.calls.filter((p) => p === '/metrics')).toHaveLength(5);
  });

  it('scrapes an endpoint added after start at once, and forgets a removed one', async () => {
    make();
    scraper.start();
    const { ep, pool } = endpoint();
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(4) };
    pool.defer = true;
    registry.add(ep);
    expect(pool.calls).toEqual(['/v1/models']); // started synchronously by onAdded
    registry.remove(ep);
    const before = ep.metrics;
    const deadline = Date.now() + 5000;
    while (pool.held.length > 0 || pool.inFlight > 0) {
      if (Date.now() > deadline) throw new Error('scrape did not finish');
      pool.release();
      await new Promise((r) => setImmediate(r));
    }
    await scraper.stop();
    expect(ep.metrics).toBe(before); // the late result was discarded
    expect([...scraper.counters()]).toHaveLength(0);
  });

  it('a tick marks an endpoint stale while its scrape is still pending', async () => {
    make({ timeoutMs: 20, staleAfterMs: 3000 });
    const { ep, pool } = endpoint();
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: vllmMetrics(1) };
    await scraper.scrapeNow(ep);
    pool.replies['/metrics'] = 'hang';
    pool.replies['/v1/models'] = 'hang';
    t += 5000;
    scraper.start();
    expect(ep.metrics.stale).toBe(true);
    expect(ep.metrics.running).toBe(1);
    await scraper.stop(); // the hung requests end at timeoutMs
    expect(ep.metrics.lastError).toMatch(/timed out after 20 ms/);
  });

  it('scrapeNow ignores an endpoint the registry does not hold', async () => {
    make();
    const { ep, pool } = endpoint();
    await scraper.scrapeNow(ep);
    expect(pool.calls).toEqual([]);
    expect([...scraper.counters()]).toHaveLength(0);
  });

  it('uses the adapter of the endpoint engine and reports each scrape', async () => {
    const seen: Array<[string, boolean]> = [];
    make({ onScrape: (ep, ok) => seen.push([ep.engine, ok]) });
    const { ep, pool } = endpoint('TGI');
    registry.add(ep);
    pool.replies['/metrics'] = { status: 200, body: 'tgi_queue_size 3\ntgi_batch_current_size 7\n' };
    await scraper.scrapeNow(ep);
    expect(ep.metrics).toMatchObject({ running: 7, waiting: 3, kvUsage: 0, lora: null, stale: false });
    expect(seen).toEqual([['TGI', true]]);
  });
});
