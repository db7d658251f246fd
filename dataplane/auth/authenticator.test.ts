/**
 * Authenticator in every mode with real parts: a key file in a temp folder and a JWKS server on
 * loopback. Checks which credential is read, that identity headers count only with auth off, which
 * paths answer synchronously, and that snapshot updates keep or replace the parts as they should.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANONYMOUS, type AuthConfig, type Identity, type IdentityConfig, type JwtAuthConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import { Authenticator } from './authenticator';
import { captureLogger, makeKey, nowSeconds, sign, startJwksServer, type JwksServer, type TestKey } from './test-support';

const KEY_A = 'sk-team-a-0123456789abcdef';
const KEY_B = 'sk-team-b-fedcba9876543210';
const IDENTITY: IdentityConfig = { userHeader: 'x-user-id', tierHeader: 'x-user-tier' };
const TEAM_A: Identity = { user: 'team-a', tier: 'premium', via: 'api-key' };
const ALICE: Identity = { user: 'alice', tier: 'gold', via: 'jwt' };

let dir: string;
let keyFile: string;
let key: TestKey;
let jwks: JwksServer;
let token: string;
let jwt: JwtAuthConfig;
const open: Authenticator[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-auth-'));
  keyFile = join(dir, 'keys.yaml');
  writeFileSync(keyFile, `keys:\n- id: team-a\n  tier: premium\n  key: ${KEY_A}\n`);
  writeFileSync(join(dir, 'other.yaml'), `keys:\n- id: team-b\n  key: ${KEY_B}\n`);
  key = await makeKey('k1');
  jwks = await startJwksServer([key.jwk]);
  jwt = { issuer: 'https://idp.test', audiences: ['kthena.io'], jwksUri: jwks.url, clockSkewSeconds: 30, userClaim: 'sub', tierClaim: 'tier' };
  token = await sign(key, { iss: 'https://idp.test', aud: 'kthena.io', sub: 'alice', tier: 'gold', exp: nowSeconds() + 600 });
});

afterEach(() => {
  for (const a of open.splice(0)) a.close();
});

afterAll(async () => {
  await jwks.close();
  rmSync(dir, { recursive: true, force: true });
});

function make(auth: AuthConfig | undefined, identity: IdentityConfig | undefined) {
  const { log, lines } = captureLogger();
  const a = new Authenticator(auth, identity, log);
  open.push(a);
  return { a, lines };
}

type Outcome = { sync: boolean; result: Identity | { code: string; message: string } };

/** Runs authenticate, recording whether it answered (or threw) synchronously. */
async function attempt(a: Authenticator, headers: IncomingHttpHeaders): Promise<Outcome> {
  const fail = (err: unknown) => {
    if (!(err instanceof SluiceError)) throw err;
    return { code: err.code, message: err.message };
  };
  let r: Identity | Promise<Identity>;
  try {
    r = a.authenticate(headers);
  } catch (err) {
    return { sync: true, result: fail(err) };
  }
  if (!(r instanceof Promise)) return { sync: true, result: r };
  return { sync: false, result: await r.catch(fail) };
}

const bearer = (x: string) => ({ authorization: `Bearer ${x}` });
const keysOnly = (): AuthConfig => ({ apiKeys: { file: keyFile } });
const jwtOnly = (): AuthConfig => ({ jwt });
const both = (): AuthConfig => ({ jwt, apiKeys: { file: keyFile } });
const spoof = { 'x-user-id': 'mallory', 'x-user-tier': 'enterprise' };

describe('Authenticator.authenticate', () => {
  it.each<[string, () => AuthConfig | undefined, IdentityConfig | undefined, () => IncomingHttpHeaders, Outcome]>([
    // Auth off: identity headers from a trusted gateway, credentials not read.
    ['off, no identity headers configured', () => undefined, undefined, () => spoof, { sync: true, result: ANONYMOUS }],
    ['off, both identity headers', () => undefined, IDENTITY, () => spoof, { sync: true, result: { user: 'mallory', tier: 'enterprise', via: 'header' } }],
    ['off, only the user header', () => undefined, IDENTITY, () => ({ 'x-user-id': 'u1' }), { sync: true, result: { user: 'u1', tier: null, via: 'header' } }],
    ['off, only the tier header', () => undefined, IDENTITY, () => ({ 'x-user-tier': 'gold' }), { sync: true, result: { user: 'anonymous', tier: 'gold', via: 'header' } }],
    ['off, headers absent', () => undefined, IDENTITY, () => ({}), { sync: true, result: ANONYMOUS }],
    ['off, a bogus bearer is not read', () => undefined, IDENTITY, () => bearer('whatever'), { sync: true, result: ANONYMOUS }],
    // API keys.
    ['keys, bearer key', keysOnly, IDENTITY, () => bearer(KEY_A), { sync: true, result: TEAM_A }],
    ['keys, lower-case scheme', keysOnly, IDENTITY, () => ({ authorization: `bearer ${KEY_A}` }), { sync: true, result: TEAM_A }],
    ['keys, x-api-key', keysOnly, IDENTITY, () => ({ 'x-api-key': KEY_A }), { sync: true, result: TEAM_A }],
    ['keys, Authorization wins over x-api-key', keysOnly, IDENTITY, () => ({ ...bearer(KEY_A), 'x-api-key': 'sk-nobody-000000000000' }), { sync: true, result: TEAM_A }],
    ['keys, identity headers ignored', keysOnly, IDENTITY, () => ({ ...bearer(KEY_A), ...spoof }), { sync: true, result: TEAM_A }],
    ['keys, identity headers alone are no credential', keysOnly, IDENTITY, () => spoof,
      { sync: true, result: { code: 'SLUICE_AUTH_REQUIRED', message: 'authentication required: send an API key as Authorization: Bearer <credential> (or x-api-key: <credential>)' } }],
    ['keys, empty bearer', keysOnly, IDENTITY, () => ({ authorization: 'Bearer' }), { sync: true, result: { code: 'SLUICE_AUTH_REQUIRED', message: expect.any(String) } }],
    ['keys, empty bearer falls back to x-api-key', keysOnly, IDENTITY, () => ({ authorization: 'Bearer ', 'x-api-key': KEY_A }), { sync: true, result: TEAM_A }],
    ['keys, bearer with two words', keysOnly, IDENTITY, () => bearer(`${KEY_A} extra`), { sync: true, result: { code: 'SLUICE_AUTH_INVALID', message: 'Authorization: Bearer takes one credential without spaces' } }],
    ['keys, unknown key', keysOnly, IDENTITY, () => bearer('sk-nobody-0000000000000000'), { sync: true, result: { code: 'SLUICE_AUTH_INVALID', message: 'unknown API key' } }],
    ['keys, Basic scheme', keysOnly, IDENTITY, () => ({ authorization: 'Basic dXNlcjpwYXNz' }),
      { sync: true, result: { code: 'SLUICE_AUTH_INVALID', message: 'Authorization uses scheme Basic; send Authorization: Bearer <credential>' } }],
    // A bare key without a scheme must not be repeated in the error.
    ['keys, a key without the Bearer scheme', keysOnly, IDENTITY, () => ({ authorization: KEY_A }),
      { sync: true, result: { code: 'SLUICE_AUTH_INVALID', message: 'Authorization uses a scheme other than Bearer (or no scheme); send Authorization: Bearer <credential>' } }],
    // JWT.
    ['jwt, bearer token', jwtOnly, IDENTITY, () => bearer(token), { sync: false, result: ALICE }],
    ['jwt, x-api-key token', jwtOnly, IDENTITY, () => ({ 'x-api-key': token }), { sync: false, result: ALICE }],
    ['jwt, identity headers ignored', jwtOnly, IDENTITY, () => ({ ...bearer(token), ...spoof }), { sync: false, result: ALICE }],
    ['jwt, a key is not a JWT', jwtOnly, IDENTITY, () => bearer(KEY_A), { sync: true, result: { code: 'SLUICE_AUTH_INVALID', message: expect.stringMatching(/is not a JWT .*accepts JWTs only/) } }],
    ['jwt, no credential', jwtOnly, IDENTITY, () => ({}), { sync: true, result: { code: 'SLUICE_AUTH_REQUIRED', message: expect.stringContaining('send a JWT') } }],
    // Both.
    ['both, a key', both, IDENTITY, () => bearer(KEY_A), { sync: true, result: TEAM_A }],
    ['both, a JWT', both, IDENTITY, () => bearer(token), { sync: false, result: ALICE }],
    ['both, JWT-shaped garbage goes to the JWT check', both, IDENTITY, () => bearer('abc.def.ghi'), { sync: false, result: { code: 'SLUICE_AUTH_INVALID', message: expect.stringMatching(/^JWT header/) } }],
    ['both, no credential', both, IDENTITY, () => spoof, { sync: true, result: { code: 'SLUICE_AUTH_REQUIRED', message: expect.stringContaining('send an API key or a JWT') } }],
  ])('%s', async (_name, auth, identity, headers, expected) => {
    const { a } = make(auth(), identity);
    expect(await attempt(a, headers())).toEqual(expected);
  });

  it('without auth or identity headers returns the shared ANONYMOUS object itself', () => {
    const { a } = make(undefined, undefined);
    expect(a.authenticate({ 'x-user-id': 'u' })).toBe(ANONYMOUS);
  });

  it('answers SLUICE_AUTH_UNAVAILABLE while the key file has never loaded', async () => {
    const { a } = make({ apiKeys: { file: join(dir, 'missing.yaml') } }, undefined);
    expect(await attempt(a, bearer(KEY_A))).toEqual({ sync: true, result: { code: 'SLUICE_AUTH_UNAVAILABLE', message: expect.any(String) } });
  });
});

describe('Authenticator.update', () => {
  it('keeps the key store while the file path is unchanged, and replaces it when it changes', async () => {
    const { a, lines } = make(keysOnly(), IDENTITY);
    const loaded = () => lines.filter((l) => l.msg === 'API key file loaded').length;
    const loadedAt = a.status().apiKeys!.loadedAt;
    a.update(both(), IDENTITY);
    expect(a.status().apiKeys!.loadedAt).toBe(loadedAt);
    expect(loaded()).toBe(1);

    a.update({ apiKeys: { file: join(dir, 'other.yaml') } }, IDENTITY);
    expect(loaded()).toBe(2);
    expect(await attempt(a, bearer(KEY_B))).toEqual({ sync: true, result: { user: 'team-b', tier: null, via: 'api-key' } });
    expect(await attempt(a, bearer(KEY_A))).toMatchObject({ result: { code: 'SLUICE_AUTH_INVALID' } });
  });

  it('keeps the JWT verifier and its cached JWKS while the settings are unchanged', async () => {
    const { a } = make(jwtOnly(), undefined);
    await a.authenticate(bearer(token));
    const hits = jwks.hits();
    a.update({ jwt: { ...jwt, audiences: [...jwt.audiences] } }, undefined);
    await a.authenticate(bearer(token));
    expect(jwks.hits()).toBe(hits);

    // Another audience is another verifier: it fetches the JWKS again and applies the new check.
    a.update({ jwt: { ...jwt, audiences: ['elsewhere'] } }, undefined);
    expect(await attempt(a, bearer(token))).toEqual({ sync: false, result: { code: 'SLUICE_AUTH_INVALID', message: 'JWT audience mismatch: token aud [kthena.io], accepted [elsewhere]' } });
    expect(jwks.hits()).toBe(hits + 1);
  });

  it('turns auth off: credentials are no longer required and identity headers count again', async () => {
    const { a } = make(both(), IDENTITY);
    a.update(undefined, IDENTITY);
    expect(await attempt(a, spoof)).toEqual({ sync: true, result: { user: 'mallory', tier: 'enterprise', via: 'header' } });
    expect(a.status()).toMatchObject({ mode: 'none', jwt: null, apiKeys: null, identityHeaders: { read: true } });
  });
});

describe('Authenticator.status', () => {
  it('shows the mode, the JWT settings and the key store, and no secrets', () => {
    const { a } = make(both(), IDENTITY);
    const status = a.status();
    expect(status).toMatchObject({
      mode: 'api-key+jwt',
      identityHeaders: { userHeader: 'x-user-id', tierHeader: 'x-user-tier', read: false },
      jwt: { issuer: 'https://idp.test', audiences: ['kthena.io'], jwksUri: jwks.url, clockSkewSeconds: 30, jwks: { cooldownMs: 5000, cacheMaxAgeMs: 600000, timeoutMs: 5000 } },
      apiKeys: { file: keyFile, keys: 1, ids: ['team-a'], lastError: null },
    });
    expect(JSON.stringify(status)).not.toContain(KEY_A);
  });
});
