import { ApiKeyGuard, apiKeysOf } from './api-key-auth';
import { startEngineSim, type EngineSimHandle } from './simulator';
import { get, postJson, sseData } from './test-helpers';

const MODEL = 'm';
const KEY = 'sk-sim-0123456789';

describe('ApiKeyGuard (vLLM AuthenticationMiddleware rules)', () => {
  const guard = new ApiKeyGuard([KEY, 'second-key']);

  it.each([
    ['the key', 'POST', '/v1/completions', `Bearer ${KEY}`, true],
    ['any of several keys', 'POST', '/v1/chat/completions', 'Bearer second-key', true],
    ['a lower-case scheme', 'GET', '/v1/models', `bearer ${KEY}`, true],
    ['no header', 'POST', '/v1/completions', undefined, false],
    ['a wrong key', 'POST', '/v1/completions', 'Bearer sk-wrong', false],
    ['a key prefix', 'POST', '/v1/completions', `Bearer ${KEY.slice(0, -1)}`, false],
    ['a trailing space (the token is all after the first space)', 'POST', '/v1/completions', `Bearer ${KEY} `, false],
    ['another scheme', 'POST', '/v1/completions', `Basic ${KEY}`, false],
    ['a bare scheme', 'POST', '/v1/completions', 'Bearer', false],
    ['an unknown /v1 path', 'GET', '/v1/nope', undefined, false],
    ['a path that only starts with /v1', 'GET', '/v1x', undefined, false],
    ['OPTIONS (CORS preflight)', 'OPTIONS', '/v1/completions', undefined, true],
    ['/health', 'GET', '/health', undefined, true],
    ['/metrics', 'GET', '/metrics', undefined, true],
    ['/tokenize', 'POST', '/tokenize', undefined, true],
    ['/sim/state', 'GET', '/sim/state', undefined, true],
  ] as const)('%s', (_name, method, path, auth, want) => {
    expect(guard.allows(method, path, auth)).toBe(want);
  });

  it.each([
    [undefined, []],
    ['', []],
    ['k', ['k']],
    [['a', '', 'b'], ['a', 'b']],
  ] as const)('apiKeysOf(%j) = %j', (value, want) => {
    expect(apiKeysOf(value as string | string[] | undefined)).toEqual(want);
  });

  it('refuses to guard with no key', () => {
    expect(() => new ApiKeyGuard([])).toThrow(/at least one key/);
  });
});

describe('a simulated pod with --api-key', () => {
  let sim: EngineSimHandle;
  let locked: string;
  let open: string;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    sim = await startEngineSim({
      // The simulator-wide key applies to every pod that sets none; "" opts a pod out.
      apiKey: KEY,
      pods: [
        { name: 'locked', ip: '127.0.0.2', port: 0, model: MODEL },
        { name: 'open', ip: '127.0.0.2', port: 0, model: MODEL, apiKey: '' },
      ],
      timeScale: 50,
    });
    [locked, open] = sim.pods.map((p) => p.url);
  });
  afterAll(() => sim.close());

  it.each([
    ['without a key', {}],
    ['with a wrong key', { authorization: 'Bearer sk-wrong' }],
  ])('answers 401 with vLLM\'s body %s', async (_name, headers) => {
    const r = await postJson(`${locked}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 }, headers);
    expect(r.status).toBe(401);
    expect(r.text).toBe('{"error":"Unauthorized"}');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(sim.pods[0].engine.stats.counters.requestsReceived).toBe(0);
  });

  it('checks before routing: an unknown /v1 path is 401, not 404', async () => {
    expect((await get(`${locked}/v1/nope`)).status).toBe(401);
    expect((await get(`${locked}/v1/nope`, auth)).status).toBe(404);
  });

  it('serves completions and models with the key', async () => {
    const r = await postJson(`${locked}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 3, ignore_eos: true }, auth);
    expect(r.status).toBe(200);
    expect(r.json.usage.completion_tokens).toBe(3);
    expect((await get(`${locked}/v1/models`, auth)).json.data[0].id).toBe(MODEL);
  });

  it('streams with the key', async () => {
    const r = await postJson(`${locked}/v1/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: 'stream' }], max_tokens: 4, ignore_eos: true, stream: true,
    }, auth);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const events = sseData(r.text);
    expect(events.at(-1)).toBe('[DONE]');
    // The role chunk, then one chunk per token.
    expect(events.filter((e) => e !== '[DONE]')).toHaveLength(5);
  });

  it('leaves /health, /metrics and /tokenize open, as vLLM does', async () => {
    expect((await get(`${locked}/health`)).status).toBe(200);
    const m = await get(`${locked}/metrics`);
    expect(m.status).toBe(200);
    expect(m.text).toContain('vllm:num_requests_running');
    expect((await postJson(`${locked}/tokenize`, { prompt: 'hello world' })).json.count).toBeGreaterThan(0);
  });

  it('keeps the key per pod: one that opted out needs none', async () => {
    expect((await postJson(`${open}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 })).status).toBe(200);
  });

  it('does not show the key in the pod\'s identity or state', async () => {
    const text = JSON.stringify([sim.pods[0].info(), sim.pods[0].state()]);
    expect(text).not.toContain(KEY);
  });
});

describe('startEngineSim rejects', () => {
  it.each([
    ['a key that is not a string', { apiKey: 42 as unknown as string }, /apiKey must be a string/],
    ['a key file without a certificate', { sslKeyfile: '/nonexistent.key' }, /sslKeyfile and sslCertfile go together/],
    ['unreadable TLS files, naming the pod and file', { sslKeyfile: '/nonexistent.key', sslCertfile: '/nonexistent.crt' }, /pod bad: cannot read --ssl-keyfile \/nonexistent.key/],
  ])('%s', async (_name, extra, want) => {
    await expect(startEngineSim({ pods: [{ name: 'bad', ip: '127.0.0.2', port: 0, model: MODEL, ...extra }] })).rejects.toThrow(want);
  });
});
