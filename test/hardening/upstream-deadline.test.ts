/**
 * Issue 11, risk 3: a ModelServer without `trafficPolicy.timeout` waited for ever on a hung
 * engine. Now the data plane's first-byte deadline (--upstream-first-byte-timeout-ms) answers
 * 504 SLUICE_UPSTREAM_TIMEOUT when no response headers came in time, never cuts a stream whose
 * headers arrived, and leaves a ModelServer's own timeout in charge where one is set. Issue 12:
 * `trafficPolicy.timeout` bounds the response headers only, as Kthena's does (a stream outlives
 * it), and the `sluice.dev/request-deadline` annotation bounds the whole exchange (it cuts a stream).
 * Real processes; the simulator's /sim/faults holds requests to play a hung engine.
 */
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from '../helpers/cluster';
import { stopAll } from '../helpers/processes';
import { readyPodYaml } from '../../hack/sim-pods';

const SUBNET = 66;
const FIRST_BYTE_MS = 600;
const ip = (n: number) => `127.${SUBNET}.0.${n}`;

const server = (name: string, extra = '', metadata = '') => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
${metadata}spec:
  model: "base-${name}"
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels:
      app: ${name}
  workloadPort:
    port: 8000
${extra}`;
const route = (name: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: ${name}
spec:
  modelName: ${name}
  rules:
  - targetModels:
    - modelServerName: ${name}
`;

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: SUBNET,
    // Real time, so a stream of a few hundred tokens takes seconds.
    timeScale: 1,
    dataplaneArgs: ['--upstream-first-byte-timeout-ms', String(FIRST_BYTE_MS)],
    files: {
      'servers.yaml': [
        server('hung', '  trafficPolicy:\n    retry:\n      attempts: 1\n      retryInterval: 10ms\n'),
        server('streamer'),
        server('own', '  trafficPolicy:\n    timeout: 10s\n'),
        server('short', '  trafficPolicy:\n    timeout: 300ms\n'),
        server('capped', '  trafficPolicy:\n    timeout: 10s\n', '  annotations:\n    sluice.dev/request-deadline: 1s\n'),
      ].join('---\n'),
      'routes.yaml': [route('hung'), route('streamer'), route('own'), route('short'), route('capped')].join('---\n'),
      'pods.yaml': [readyPodYaml('hung-a', { app: 'hung' }, ip(1)), readyPodYaml('hung-b', { app: 'hung' }, ip(2)),
        readyPodYaml('streamer-a', { app: 'streamer' }, ip(3)), readyPodYaml('own-a', { app: 'own' }, ip(4)),
        readyPodYaml('short-a', { app: 'short' }, ip(5)), readyPodYaml('capped-a', { app: 'capped' }, ip(6))].join('---\n'),
    },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function fault(n: number, rule: object): Promise<void> {
  const res = await request(`http://${ip(n)}:8000/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

async function complete(model: string, extra: object = {}): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  const res = await request(`${sluice.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'San Francisco is a', max_tokens: 4, ...extra }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: Date.now() - t0 };
}

describe('the default first-byte deadline', () => {
  it('answers 504 SLUICE_UPSTREAM_TIMEOUT when every engine of a ModelServer without a timeout hangs', async () => {
    // Both pods hold every request for 30 s (longer than the test's own timeout would allow).
    await fault(1, { count: 10, delayMs: 30_000 });
    await fault(2, { count: 10, delayMs: 30_000 });
    const r = await complete('hung');
    expect(r.status).toBe(504);
    const body = JSON.parse(r.text) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'SLUICE_UPSTREAM_TIMEOUT', type: 'server_error' });
    expect(body.error.message).toMatch(/no response headers within 600ms .*--upstream-first-byte-timeout-ms/);
    // The deadline, not the 30 s hold, ended it (upper bound: generous for a busy machine).
    expect(r.ms).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 50);
    expect(r.ms).toBeLessThan(10_000);
  });

  it('never cuts a stream whose headers arrived, however long it runs', async () => {
    const r = await complete('streamer', { stream: true, max_tokens: 250, ignore_eos: true });
    expect(r.status).toBe(200);
    // The stream outlived the deadline several times over and ended normally.
    expect(r.ms).toBeGreaterThan(3 * FIRST_BYTE_MS);
    expect(r.text.trim().endsWith('data: [DONE]')).toBe(true);
    const chunks = r.text.split('\n').filter((l) => l.startsWith('data: {')).length;
    expect(chunks).toBeGreaterThanOrEqual(250);
  });

  it('leaves a ModelServer with its own trafficPolicy.timeout to that timeout', async () => {
    // Held for longer than the default deadline, well inside the server's 10 s.
    await fault(4, { count: 1, delayMs: 3 * FIRST_BYTE_MS });
    const r = await complete('own');
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThanOrEqual(3 * FIRST_BYTE_MS - 50);
    expect((JSON.parse(r.text) as { model: string }).model).toBe('base-own');
  });
});

describe('trafficPolicy.timeout and sluice.dev/request-deadline', () => {
  it('timeout: 504 when the headers are late, naming the timeout', async () => {
    await fault(5, { count: 1, delayMs: 2_000 });
    const r = await complete('short');
    expect(r.status).toBe(504);
    expect((JSON.parse(r.text) as { error: { message: string } }).error.message).toMatch(/sent no response headers within its trafficPolicy.timeout of 300ms/);
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(1_900);
  });

  it('timeout: a stream whose headers came in time runs past it to the end, as in Kthena', async () => {
    const r = await complete('short', { stream: true, max_tokens: 150, ignore_eos: true });
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThan(3 * 300);
    expect(r.text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('request-deadline: cuts a stream that runs past it', async () => {
    const r = await request(`${sluice.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'capped', prompt: 'San Francisco is a', max_tokens: 400, ignore_eos: true, stream: true }),
    });
    expect(r.statusCode).toBe(200);
    const t0 = Date.now();
    let text = '';
    await expect((async () => { for await (const chunk of r.body) text += String(chunk); })()).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(text).toContain('data: {');
    expect(text).not.toContain('data: [DONE]');
  });

  it('request-deadline: 504 when it passes before the headers, naming the annotation', async () => {
    await fault(6, { count: 1, delayMs: 3_000 });
    const r = await complete('capped');
    expect(r.status).toBe(504);
    expect((JSON.parse(r.text) as { error: { message: string } }).error.message).toMatch(/did not answer within its sluice.dev\/request-deadline of 1000ms/);
    expect(r.ms).toBeLessThan(2_900);
  });
});
