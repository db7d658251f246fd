/**
 * Authentication through the real data plane, operator and engine simulator. A route first
 * served without auth gets API keys and JWTs when the router ConfigMap appears in the watched
 * folder (no restart); JWTs are checked against a JWKS served on loopback, whose keys rotate;
 * the key file is replaced and broken live; identity headers stop counting once auth is on.
 * A small capture engine (a pod the simulator leaves unserved) records the headers an engine
 * receives, since the simulator does not expose them. The `it`s build on each other, in order.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import OpenAI from 'openai';
import { request } from 'undici';
import { makeKey, nowSeconds, sign, startJwksServer, type JwksServer, type TestKey } from '../dataplane/auth/test-support';
import { example, relocatePods, startLocalSluice, type LocalSluice } from './helpers/cluster';
import { stopAll, waitFor } from './helpers/processes';

const SUBNET = 30;
const MODEL = 'deepseek-simple';
const ISSUER = 'testing@secure.istio.io';
const AUDIENCE = 'kthena.io';
const KEY_A = 'sk-team-a-6f1d2c9b8a7e4f30';
const KEY_B = 'sk-team-b-0c4e8a1f5d9b3e72';

let sluice: LocalSluice;
let jwks: JwksServer;
let capture: { server: Server; seen: IncomingHttpHeaders[] };
let key1: TestKey;
let key2: TestKey;
let impostor: TestKey;
let keyFile: string;

beforeAll(async () => {
  [key1, key2, impostor] = await Promise.all([makeKey('k1'), makeKey('k2'), makeKey('k1')]);
  jwks = await startJwksServer([key1.jwk]);
  capture = await startCaptureEngine(`127.${SUBNET}.0.99`);
  sluice = await startLocalSluice({
    subnet: SUBNET,
    files: {
      'modelservers.yaml': example('modelservers.yaml'),
      'pods.yaml': relocatePods(example('pods.yaml'), SUBNET),
      'modelroute-simple.yaml': example('modelroute-simple.yaml'),
      'capture.yaml': captureObjects((capture.server.address() as AddressInfo).port),
    },
  });
  // Beside the watched folder, not in it: the operator would read it as an API object.
  const keysDir = join(sluice.dir, '..', 'api-keys');
  mkdirSync(keysDir);
  keyFile = join(keysDir, 'keys.yaml');
});

afterAll(async () => {
  await stopAll();
  await jwks?.close();
  if (capture) {
    capture.server.closeAllConnections();
    await new Promise((r) => capture.server.close(r));
  }
  sluice?.cleanup();
});

describe('authentication through the data plane', () => {
  it('turns on live with the router ConfigMap: no credential 401, a key 200 with its identity, an unknown key 401', async () => {
    const open = await complete(MODEL);
    expect(open.status).toBe(200);
    expect((await authDump()).mode).toBe('none');

    writeFileSync(keyFile, `keys:\n- id: team-a\n  tier: premium\n  key: ${KEY_A}\n`);
    const v = await sluice.servingVersion();
    writeFileSync(join(sluice.dir, 'router-config.yaml'), routerConfig(jwks.url, keyFile));
    await sluice.waitForVersionAbove(v);
    const dump = await authDump();
    expect(dump.mode).toBe('api-key+jwt');
    expect(dump.apiKeys.ids).toEqual(['team-a']);

    const none = await complete(MODEL);
    expect(none).toMatchObject({ status: 401, error: { code: 'SLUICE_AUTH_REQUIRED', type: 'authentication_error' } });
    expect(none.error!.message).toMatch(/an API key or a JWT/);

    const id = 'auth-key-a';
    const ok = await client(KEY_A).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'x-request-id': id } });
    expect(ok.choices[0]!.message.content).toBeTruthy();
    expect(await accessLine(id)).toMatchObject({ status: 200, user: 'team-a', tier: 'premium' });

    expect(await refusal(client('sk-nobody-0000000000000000').completions.create({ model: MODEL, prompt: 'hi', max_tokens: 1 })))
      .toEqual({ status: 401, code: 'SLUICE_AUTH_INVALID', message: 'unknown API key' });
  });

  it('checks JWTs against the JWKS, picks up a rotated key, and keeps the credential from the engine', async () => {
    const good = await token(key1, { sub: 'alice', tier: 'gold' });
    const chat = await client(good).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'x-request-id': 'auth-jwt-chat' } });
    expect(chat.choices[0]!.message.content).toBeTruthy();
    expect(await accessLine('auth-jwt-chat')).toMatchObject({ status: 200, user: 'alice', tier: 'gold' });
    const stream = await client(good).completions.create({ model: MODEL, prompt: 'San Francisco is a', max_tokens: 5, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(true);
    expect(jwks.hits()).toBe(1);

    const cases: Array<[string, string, RegExp]> = [
      ['wrong audience', await token(key1, { aud: 'other.io' }), /audience mismatch/],
      ['wrong issuer', await token(key1, { iss: 'someone@else' }), /issuer mismatch/],
      ['expired', await token(key1, { exp: nowSeconds() - 3600 }), /expired/],
      ['alg none', unsignedToken(claims({})), /alg none/],
      ['HS256', await new SignJWT(claims({})).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(JSON.stringify(key1.jwk))), /HS256.*shared-secret/],
      ['key not in the JWKS', await token(impostor, {}), /signature does not verify/],
    ];
    const seen = [];
    for (const [name, jwt] of cases) seen.push([name, await refusal(client(jwt).completions.create({ model: MODEL, prompt: 'hi', max_tokens: 1 }))]);
    expect(seen).toEqual(cases.map(([name, , reason]) => [name, { status: 401, code: 'SLUICE_AUTH_INVALID', message: expect.stringMatching(reason) }]));
    // None of them made the data plane fetch the JWKS again.
    expect(jwks.hits()).toBe(1);

    // Rotation: the issuer publishes k2. Within the cooldown after the last fetch an unknown kid is
    // refused without fetching; after it, the first such token fetches once and is accepted.
    jwks.keys = [key1.jwk, key2.jwk];
    const rotated = await token(key2, { sub: 'bob' });
    await waitFor('a token signed with the new key to be accepted', async () => (await complete(MODEL, bearer(rotated))).status === 200, 15_000, 200);
    expect(jwks.hits()).toBe(2);
    expect((await authDump()).jwt.jwks.kids).toEqual(['k1', 'k2']);

    // The engine gets the request's other headers, but neither credential header.
    capture.seen.length = 0;
    expect((await client(good).completions.create({ model: 'capture', prompt: 'hi', max_tokens: 1 }, { headers: { 'x-trace': 'jwt' } })).choices[0]!.text).toBe('captured');
    expect((await complete('capture', { 'x-api-key': KEY_A, 'x-trace': 'key' })).status).toBe(200);
    expect(capture.seen.map((h) => [h['x-trace'], h.authorization, h['x-api-key']])).toEqual([['jwt', undefined, undefined], ['key', undefined, undefined]]);
  });

  it('follows the key file: a replaced file swaps keys, a broken one keeps the last good keys', async () => {
    const sha = createHash('sha256').update(KEY_B).digest('hex');
    replaceFile(keyFile, `keys:\n- id: team-b\n  tier: standard\n  sha256: "${sha}"\n`);
    await waitFor('the new key to work and the removed one to stop', async () =>
      (await complete(MODEL, bearer(KEY_B))).status === 200 && (await complete(MODEL, bearer(KEY_A))).status === 401, 10_000, 100);
    expect((await complete(MODEL, bearer(KEY_A))).error).toMatchObject({ code: 'SLUICE_AUTH_INVALID', message: 'unknown API key' });
    expect((await authDump()).apiKeys).toMatchObject({ ids: ['team-b'], lastError: null });

    replaceFile(keyFile, 'keys:\n- id: team-c\n  key: [unclosed\n');
    const keys = await waitFor('the debug endpoint to show the reload error', async () => {
      const k = (await authDump()).apiKeys;
      return k.lastError ? k : null;
    });
    expect(keys.lastError).toMatch(/keys\.yaml: not valid YAML/);
    expect(keys.ids).toEqual(['team-b']);
    expect((await complete(MODEL, bearer(KEY_B))).status).toBe(200);
    expect((await complete(MODEL, bearer(KEY_A))).status).toBe(401);
  });

  it('ignores identity headers while auth is on: the key decides who the user is', async () => {
    expect((await authDump()).identityHeaders).toEqual({ userHeader: 'x-user-id', tierHeader: null, read: false });
    const id = 'auth-spoof';
    await client(KEY_B).completions.create({ model: MODEL, prompt: 'hi', max_tokens: 1 }, { headers: { 'x-user-id': 'someone-else', 'x-request-id': id } });
    expect(await accessLine(id)).toMatchObject({ status: 200, user: 'team-b', tier: 'standard' });
  });
});

// ---- helpers ----

/** The router ConfigMap turning on JWTs and API keys. */
function routerConfig(jwksUri: string, file: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: sluice-router-config
  namespace: default
data:
  routerConfiguration: |-
    auth:
      issuer: "${ISSUER}"
      audiences: ["${AUDIENCE}"]
      jwksUri: "${jwksUri}"
      apiKeys:
        file: ${file}
    identity:
      userHeader: x-user-id
`;
}

/** Model `capture` → ModelServer `capture` → a pod the simulator leaves to the capture engine. */
function captureObjects(port: number): string {
  return `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: capture, namespace: default}
spec:
  workloadSelector: {matchLabels: {app: capture}}
  workloadPort: {port: ${port}}
  model: capture-engine
  inferenceEngine: vLLM
---
apiVersion: v1
kind: Pod
metadata:
  name: capture-0
  namespace: default
  labels: {app: capture}
  annotations: {sim.sluice.dev/serve: "false"}
status:
  phase: Running
  podIP: 127.${SUBNET}.0.99
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: capture, namespace: default}
spec:
  modelName: capture
  rules: [{name: default, targetModels: [{modelServerName: capture}]}]
`;
}

/** An engine that records each completion request's headers and answers "captured". */
async function startCaptureEngine(host: string): Promise<{ server: Server; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    req.resume();
    if (req.url !== '/v1/completions') return void res.writeHead(404).end();
    seen.push(req.headers);
    const body = JSON.stringify({ id: 'cmpl-capture', object: 'text_completion', created: nowSeconds(), model: 'capture-engine',
      choices: [{ index: 0, text: 'captured', finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, seen };
}

function client(credential: string): OpenAI {
  return new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: credential, maxRetries: 0 });
}

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

type ErrorBody = { code: string; message: string; type: string };

/** A small completion over undici, which (unlike the openai client) can send no credential. */
async function complete(model: string, headers: Record<string, string> = {}): Promise<{ status: number; error?: ErrorBody }> {
  const res = await request(`${sluice.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, prompt: 'hi', max_tokens: 1 }) });
  const body = (await res.body.json()) as { error?: ErrorBody };
  return { status: res.statusCode, error: body.error };
}

/** The status, code and message of a call the openai client must see fail. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; code: unknown; message: unknown }> {
  const err = await call.then(() => new Error('the request succeeded'), (e: unknown) => e);
  if (!(err instanceof OpenAI.APIError)) throw err;
  const body = err.error as ErrorBody;
  return { status: err.status, code: body.code, message: body.message };
}

async function authDump() {
  const res = await request(`${sluice.adminUrl}/debug/config_dump/auth`, { headers: { authorization: `Bearer ${sluice.token}` } });
  return (await res.body.json()) as {
    mode: string;
    identityHeaders: { userHeader: string | null; tierHeader: string | null; read: boolean };
    apiKeys: { ids: string[]; lastError: string | null };
    jwt: { jwks: { kids: string[] } };
  };
}

/** The data plane's access log line for a request id (the log is flushed every 200 ms). */
function accessLine(requestId: string): Promise<Record<string, unknown>> {
  return waitFor(`access log line of ${requestId}`, () => sluice.dataplane.output().split('\n')
    .filter((l) => l.includes('"msg":"access"') && l.includes(`"requestId":"${requestId}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>)[0]);
}

function claims(over: JWTPayload): JWTPayload {
  return { sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 600, ...over };
}

const token = (key: TestKey, over: JWTPayload) => sign(key, claims(over));

/** `alg: none`: jose refuses to make one, so build it by hand. */
function unsignedToken(payload: JWTPayload): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

/** Writes a temporary file and renames it over `file`, as an atomic update does. */
function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}
