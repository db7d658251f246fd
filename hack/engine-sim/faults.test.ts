import { FaultInjector, parseFaultRule } from './faults';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { del, get, postJson, sseData, waitFor } from './test-helpers';

const MODEL = 'sim/faulty';

describe('FaultInjector', () => {
  it('consumes rules in order, one per request, count times each', () => {
    const f = new FaultInjector();
    f.add(parseFaultRule({ status: 500, count: 2 }));
    f.add(parseFaultRule({ delayMs: 10 }));
    expect([f.take()?.status, f.take()?.status, f.take()?.delayMs, f.take()]).toEqual([500, 500, 10, null]);
  });

  it.each([
    ['no effect', { count: 2 }],
    ['bad status', { status: 99 }],
    ['negative delay', { delayMs: -1 }],
    ['zero count', { status: 500, count: 0 }],
    ['non-object', [1]],
    ['non-boolean drop', { dropConnection: 'yes' }],
  ])('rejects %s', (_name, body) => {
    expect(() => parseFaultRule(body)).toThrow();
  });
});

describe('/sim/faults', () => {
  let sim: EngineSimHandle;
  let base: string;
  const infer = (extra: Record<string, unknown> = {}): ReturnType<typeof postJson> =>
    postJson(`${base}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 3, ...extra });

  beforeAll(async () => {
    sim = await startEngineSim({ pods: [{ name: 'faulty', ip: '127.0.0.5', port: 0, model: MODEL }], timeScale: 20 });
    base = sim.pods[0].url;
  });
  afterAll(() => sim.close());
  afterEach(() => del(`${base}/sim/faults`));

  it('answers the next N inference requests with the status, then recovers', async () => {
    expect((await postJson(`${base}/sim/faults`, { status: 500, count: 2 })).status).toBe(200);
    // Non-inference endpoints do not consume faults.
    expect((await get(`${base}/health`)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await infer()).status);
    expect(statuses).toEqual([500, 500, 200]);
    const state = (await get(`${base}/sim/state`)).json;
    expect(state.counters.faultsInjected).toBe(2);
  });

  it('uses the OpenAI error shape, sim headers and optional Retry-After', async () => {
    await postJson(`${base}/sim/faults`, { status: 429, retryAfterSec: 3, message: 'slow down' });
    const r = await infer();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('3');
    expect(r.headers.get('x-sim-pod')).toBe('faulty');
    expect(r.json).toEqual({ error: { message: 'slow down', type: 'RateLimitError', param: null, code: 429 } });
  });

  it('holds a request for delayMs of wall time before answering', async () => {
    await postJson(`${base}/sim/faults`, { delayMs: 400, count: 1 });
    const t0 = Date.now();
    const pending = infer();
    await waitFor(async () => (await get(`${base}/sim/state`)).json.faults.held === 1, 'request held');
    const r = await pending;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(r.status).toBe(200);
    expect((await get(`${base}/sim/state`)).json.faults.held).toBe(0);
  });

  it('drops the connection', async () => {
    await postJson(`${base}/sim/faults`, { dropConnection: true });
    await expect(infer()).rejects.toThrow();
    expect((await infer()).status).toBe(200);
  });

  it('drops a stream mid-way with afterTokens', async () => {
    await postJson(`${base}/sim/faults`, { dropConnection: true, afterTokens: 3 });
    const r = await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 50, ignore_eos: true, stream: true }),
    });
    expect(r.status).toBe(200);
    let text = '';
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    await expect(
      (async () => {
        // Bounded: the server sends at most 50 tokens before [DONE].
        for (let i = 0; i < 200; i++) {
          const { done, value } = await reader.read();
          if (done) return;
          text += dec.decode(value);
        }
      })(),
    ).rejects.toThrow();
    expect(text).not.toContain('[DONE]');
    // At most the two tokens written before the third triggered the drop.
    expect(sseData(text).length).toBeLessThanOrEqual(2);
  });

  it('DELETE clears pending rules and GET lists them', async () => {
    await postJson(`${base}/sim/faults`, { status: 503, count: 5 });
    expect((await get(`${base}/sim/faults`)).json.faults).toEqual([{ status: 503, count: 5 }]);
    expect((await del(`${base}/sim/faults`)).json).toEqual({ cleared: 1 });
    expect((await infer()).status).toBe(200);
  });

  it('rejects an invalid rule with 400', async () => {
    const r = await postJson(`${base}/sim/faults`, { status: 'boom' });
    expect(r.status).toBe(400);
    expect((await get(`${base}/sim/faults`)).json.faults).toEqual([]);
  });
});
