/**
 * Every error the data plane answers itself, and the forwarding rules: failover on connect
 * errors and on 5xx before the first byte, trafficPolicy.timeout, retry attempts, backend 4xx
 * passed through unchanged. Real processes; faults injected through the simulator's /sim/faults.
 */
import { request } from 'undici';
import { startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const NET = 22;
const ip = (n: number) => `127.${NET}.0.${n}`;

const pod = (name: string, app: string, n: number, ready = true) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: ${app}
status:
  phase: Running
  podIP: ${ip(n)}
  conditions:
  - type: Ready
    status: "${ready ? 'True' : 'False'}"
`;
const server = (name: string, extra = '') => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
spec:
  model: "base-${name}"
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels:
      app: ${name}
  workloadPort:
    port: 8000
${extra}`;
const route = (model: string, target: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: ${model}
spec:
  modelName: ${model}
  rules:
  - targetModels:
    - modelServerName: ${target}
`;

let sluice: LocalSluice;

beforeAll(async () => {
  sluice = await startLocalSluice({
    subnet: NET,
    dataplaneArgs: ['--max-body-bytes', '4096'],
    files: {
      'servers.yaml': [
        server('flaky', '  trafficPolicy:\n    retry:\n      attempts: 1\n      retryInterval: 10ms\n'),
        server('strict', '  trafficPolicy:\n    retry:\n      attempts: 0\n'),
        server('slow', '  trafficPolicy:\n    timeout: 300ms\n'),
        // A random picker, so the dead pod is tried first about half the time whatever the
        // scraper has learnt about it: connect failover must happen (P(no failover in 20) = 2^-20).
        server('halfdead').replace('metadata:\n  name: halfdead\n', 'metadata:\n  name: halfdead\n  annotations:\n    sluice.dev/scheduler-config: random-pick\n'),
        server('unready'),
      ].join('---\n'),
      'random-pick.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: random-pick
data:
  endpointPickerConfig: |
    apiVersion: inference.networking.x-k8s.io/v1alpha1
    kind: EndpointPickerConfig
    plugins:
    - type: random-picker
      parameters:
        maxNumOfEndpoints: 2
`,
      'routes.yaml': [route('flaky', 'flaky'), route('strict', 'strict'), route('slow', 'slow'), route('halfdead', 'halfdead'), route('unready', 'unready'),
        route('ghost', 'no-such-server')].join('---\n'),
      'pods.yaml': [pod('flaky-a', 'flaky', 1), pod('flaky-b', 'flaky', 2), pod('strict-a', 'strict', 3), pod('slow-a', 'slow', 4),
        pod('halfdead-a', 'halfdead', 5), pod('unready-a', 'unready', 7, false)].join('---\n'),
      // halfdead-b points at an address where nothing listens: every connect is refused.
      'dead-pod.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: halfdead-b
  annotations:
    sim.sluice.dev/serve: "false"
  labels:
    app: halfdead
status:
  phase: Running
  podIP: ${ip(99)}
  conditions:
  - type: Ready
    status: "True"
`,
    },
  });
});

afterAll(async () => {
  await stopAll();
  sluice?.cleanup();
});

async function post(path: string, body: string | object, headers: Record<string, string> = {}) {
  const res = await request(`${sluice.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as { error: { code: string; message: string; type: string } } };
}

async function fault(n: number, rule: object) {
  const res = await request(`http://${ip(n)}:8000/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await request(`${sluice.adminUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('errors Sluice answers itself are OpenAI-shaped with a stable code', () => {
  it.each([
    ['unknown model', 404, 'SLUICE_MODEL_NOT_FOUND', '/v1/completions', { model: 'nope', prompt: 'x' }, /not served/],
    ['malformed JSON', 400, 'SLUICE_INVALID_JSON', '/v1/completions', '{"model": "flaky", ', /not valid JSON/],
    ['missing model', 400, 'SLUICE_INVALID_REQUEST', '/v1/chat/completions', { messages: [] }, /`model` is required/],
    ['body over the limit', 413, 'SLUICE_BODY_TOO_LARGE', '/v1/completions', { model: 'flaky', prompt: 'x'.repeat(5000) }, /limit is 4096 bytes/],
    ['no ready endpoint', 503, 'SLUICE_NO_ENDPOINTS', '/v1/completions', { model: 'unready', prompt: 'x' }, /no ready endpoints/],
    ['target ModelServer missing', 500, 'SLUICE_TARGET_UNRESOLVED', '/v1/completions', { model: 'ghost', prompt: 'x' }, /no-such-server/],
    ['unknown path', 404, 'SLUICE_NOT_FOUND', '/v1/nothing', { model: 'flaky' }, /no endpoint \/v1\/nothing/],
  ])('%s → %i %s', async (_name, status, code, path, body, message) => {
    const r = await post(path, body);
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    const e = r.json().error;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(typeof e.type).toBe('string');
  });

  it('upstream timeout → 504 SLUICE_UPSTREAM_TIMEOUT after trafficPolicy.timeout', async () => {
    await fault(4, { delayMs: 3000, count: 1 });
    const t0 = Date.now();
    const r = await post('/v1/completions', { model: 'slow', prompt: 'x', max_tokens: 2 });
    const took = Date.now() - t0;
    expect(r.status).toBe(504);
    expect(r.json().error.code).toBe('SLUICE_UPSTREAM_TIMEOUT');
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2500);
  });

  it('the ModelServer reference ResolvedRefs=False names the missing ModelServer', async () => {
    const status = await sluice.status();
    const c = status.objects['ModelRoute/default/ghost']!.conditions.find((x) => x.type === 'ResolvedRefs')!;
    expect(c.status).toBe('False');
    expect(c.message).toMatch(/targetModels\[0\]: ModelServer no-such-server not found in namespace default/);
  });
});

describe('forwarding', () => {
  it('fails over on connect refused: every request succeeds on the live pod', async () => {
    const before = await metric('sluice_upstream_failovers_total', 'reason="connect"');
    for (let i = 0; i < 20; i++) {
      const r = await post('/v1/completions', { model: 'halfdead', prompt: 'x', max_tokens: 2 });
      expect(r.status).toBe(200);
      expect(r.headers['x-sim-pod']).toBe('halfdead-a');
    }
    expect(await metric('sluice_upstream_failovers_total', 'reason="connect"')).toBeGreaterThan(before);
  });

  it('fails over on a 5xx before the first byte, within retry.attempts', async () => {
    await fault(1, { status: 500, count: 1000 });
    try {
      for (let i = 0; i < 6; i++) {
        const r = await post('/v1/completions', { model: 'flaky', prompt: 'x', max_tokens: 2 });
        expect(r.status).toBe(200);
        expect(r.headers['x-sim-pod']).toBe('flaky-b');
      }
      expect(await metric('sluice_upstream_failovers_total', 'server="default/flaky",reason="status"')).toBeGreaterThan(0);
    } finally {
      await request(`http://${ip(1)}:8000/sim/faults`, { method: 'DELETE' }).then((r) => r.body.dump());
    }
  });

  it('with retry.attempts 0, a backend 5xx is passed through unchanged', async () => {
    await fault(3, { status: 503, count: 1, message: 'engine overloaded' });
    const r = await post('/v1/completions', { model: 'strict', prompt: 'x' });
    expect(r.status).toBe(503);
    expect(r.text).toContain('engine overloaded');
    expect(r.headers['x-sim-pod']).toBe('strict-a');
  });

  it('a backend 4xx is passed through unchanged (status, headers and body)', async () => {
    const direct = await request(`http://${ip(3)}:8000/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'base-strict' }) });
    const directText = await direct.body.text();
    const r = await post('/v1/completions', { model: 'strict' });
    expect(direct.statusCode).toBeGreaterThanOrEqual(400);
    expect(direct.statusCode).toBeLessThan(500);
    expect(r.status).toBe(direct.statusCode);
    expect(r.text).toBe(directText);
  });

  it('counts requests and latency in /metrics, labelled by route and server', async () => {
    expect(await metric('sluice_requests_total', 'route="default/halfdead",server="default/halfdead",code="200"')).toBeGreaterThanOrEqual(6);
    expect(await metric('sluice_request_duration_seconds_count', 'route="default/halfdead"')).toBeGreaterThanOrEqual(6);
    expect(await metric('sluice_errors_total', 'code="SLUICE_MODEL_NOT_FOUND"')).toBeGreaterThanOrEqual(1);
  });

  it('writes one JSON access-log line per request', async () => {
    const r = await post('/v1/completions', { model: 'strict', prompt: 'log me', max_tokens: 3 }, { 'x-request-id': 'req-log-check' });
    expect(r.status).toBe(200);
    const line = await waitFor('the access-log line', () =>
      sluice.dataplane.output().split('\n').find((l) => l.includes('"requestId":"req-log-check"')));
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({ msg: 'access', route: 'default/strict', server: 'default/strict', endpoint: 'default/strict-a', status: 200, completionTokens: 3 });
  });
});
