/**
 * JwtVerifier against a real JWKS server on loopback, with keys made and tokens signed by jose:
 * every claim check, the refused algorithms, key rotation in both directions, and an issuer that
 * is down, failing or silent. Time-dependent claims are set relative to now; nothing waits for a
 * token to expire, and rotation is awaited with a bounded poll.
 */
import { SignJWT, base64url, type JWTPayload } from 'jose';
import type { Identity, JwtAuthConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import { JwtVerifier, looksLikeJwt, type JwksOptions } from './jwt-verifier';
import { captureLogger, deadUrl, makeKey, nowSeconds, sign, startJwksServer, waitFor, type JwksServer, type TestKey } from './test-support';

const ISSUER = 'https://idp.example.test';

function config(jwksUri: string): JwtAuthConfig {
  return { issuer: ISSUER, audiences: ['kthena.io', 'other'], jwksUri, clockSkewSeconds: 30, userClaim: 'sub', tierClaim: 'tier' };
}

/** Claims that pass every check, with `over` applied (an `undefined` value removes the claim). */
function claims(over: Record<string, unknown> = {}): JWTPayload {
  const c: Record<string, unknown> = { iss: ISSUER, aud: 'kthena.io', sub: 'alice', tier: 'premium', exp: nowSeconds() + 300, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c as JWTPayload;
}

/** The identity, or the error's code and message. */
async function outcome(p: Promise<Identity>): Promise<Identity | { code: string; message: string }> {
  try {
    return await p;
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { code: err.code, message: err.message };
  }
}

let rsa: TestKey;
let rsa2: TestKey;
let ec: TestKey;
let rogue: TestKey;
let server: JwksServer;
const servers: JwksServer[] = [];

beforeAll(async () => {
  [rsa, rsa2, ec, rogue] = await Promise.all([makeKey('rsa-1'), makeKey('rsa-2'), makeKey('ec-1', 'ES256'), makeKey('rsa-1')]);
  server = await startJwksServer([rsa.jwk, rsa2.jwk, ec.jwk]);
});

afterAll(async () => {
  await Promise.all([server, ...servers].map((s) => s.close()));
});

function verifier(uri = server.url, opts: JwksOptions = {}) {
  const { log, lines } = captureLogger();
  return { v: new JwtVerifier(config(uri), log, opts), lines };
}

describe('JwtVerifier claims and signatures', () => {
  const shared = { v: null as JwtVerifier | null };
  const v = () => (shared.v ??= verifier().v);

  // Rows build their token lazily: the keys exist only after beforeAll.
  it.each<[string, () => Promise<string>, Identity | { code: string; message: RegExp }]>([
    ['a valid RS256 token', () => sign(rsa, claims()), { user: 'alice', tier: 'premium', via: 'jwt' }],
    ['a valid ES256 token without a tier', () => sign(ec, claims({ tier: undefined })), { user: 'alice', tier: null, via: 'jwt' }],
    ['an aud list holding one accepted audience', () => sign(rsa, claims({ aud: ['x', 'other'] })), { user: 'alice', tier: 'premium', via: 'jwt' }],
    ['a tier claim that is not a string', () => sign(rsa, claims({ tier: 3 })), { user: 'alice', tier: null, via: 'jwt' }],
    ['no kid, the second of two RSA keys', () => sign(rsa2, claims(), { kid: null }), { user: 'alice', tier: 'premium', via: 'jwt' }],
    ['exp passed by less than the skew', () => sign(rsa, claims({ exp: nowSeconds() - 10 })), { user: 'alice', tier: 'premium', via: 'jwt' }],
    ['nbf ahead by less than the skew', () => sign(rsa, claims({ nbf: nowSeconds() + 10 })), { user: 'alice', tier: 'premium', via: 'jwt' }],
    ['the wrong issuer', () => sign(rsa, claims({ iss: 'https://evil.test' })),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT issuer mismatch: token iss https:\/\/evil\.test, expected https:\/\/idp\.example\.test$/ }],
    ['the wrong audience', () => sign(rsa, claims({ aud: ['x', 'y'] })),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT audience mismatch: token aud \[x, y\], accepted \[kthena\.io, other\]$/ }],
    ['no audience', () => sign(rsa, claims({ aud: undefined })), { code: 'SLUICE_AUTH_INVALID', message: /^JWT has no "aud" claim$/ }],
    ['exp passed by more than the skew', () => sign(rsa, claims({ exp: nowSeconds() - 60 })),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(clock skew allowance 30s\)$/ }],
    ['no exp', () => sign(rsa, claims({ exp: undefined })), { code: 'SLUICE_AUTH_INVALID', message: /^JWT has no "exp" claim; tokens without an expiry are refused$/ }],
    ['a non-numeric exp', () => sign(rsa, claims({ exp: 'tomorrow' })), { code: 'SLUICE_AUTH_INVALID', message: /"exp" claim must be a number/ }],
    ['nbf ahead by more than the skew', () => sign(rsa, claims({ nbf: nowSeconds() + 120 })),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT not valid before \d{4}-.*Z \(clock skew allowance 30s\)$/ }],
    ['no user claim', () => sign(rsa, claims({ sub: undefined })), { code: 'SLUICE_AUTH_INVALID', message: /^JWT has no string "sub" claim/ }],
    ['alg none', async () => `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(claims()))}.`,
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT signed with alg none is refused$/ }],
    ['alg NONE in other case', async () => `${base64url.encode('{"alg":"NONE","typ":"JWT"}')}.${base64url.encode(JSON.stringify(claims()))}.`,
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT signed with alg none is refused$/ }],
    // Key confusion: an HMAC keyed with the issuer's public key, which anyone can fetch.
    ['HS256 keyed with the public JWK', () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(JSON.stringify(rsa.jwk))),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT signed with alg HS256 is refused \(a shared-secret algorithm; the JWKS holds public keys\); accepted: RS256/ }],
    ['a key not in the JWKS under a kid that is', () => sign(rogue, claims()),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT signature does not verify with the issuer's key \(kid rsa-1, alg RS256\)$/ }],
    ['a key not in the JWKS and no kid', () => sign(rogue, claims(), { kid: null }),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT signature does not verify with the issuer's key \(no kid, alg RS256\)$/ }],
    ['a kid the JWKS does not have', () => sign(rogue, claims(), { kid: 'gone' }),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT names no key the issuer's JWKS has \(kid gone, alg RS256\)$/ }],
    ['an RS256 kid used with ES256', () => sign(ec, claims(), { kid: 'rsa-1' }),
      { code: 'SLUICE_AUTH_INVALID', message: /^JWT names no key the issuer's JWKS has \(kid rsa-1, alg ES256\)$/ }],
    ['a header that is not JSON', async () => 'bm90IGpzb24.eyJzdWIiOiJhIn0.c2ln', { code: 'SLUICE_AUTH_INVALID', message: /^JWT header is not base64url-encoded JSON$/ }],
    ['a tampered payload', async () => {
      const [h, , s] = (await sign(rsa, claims())).split('.');
      return `${h}.${base64url.encode(JSON.stringify(claims({ sub: 'admin' })))}.${s}`;
    }, { code: 'SLUICE_AUTH_INVALID', message: /^JWT signature does not verify/ }],
  ])('%s', async (_name, token, expected) => {
    const t = await token();
    expect(looksLikeJwt(t)).toBe(true);
    const got = await outcome(v().verify(t));
    if ('user' in expected) expect(got).toEqual(expected);
    else {
      expect(got).toEqual({ code: expected.code, message: expect.stringMatching(expected.message) });
      expect((got as { message: string }).message).not.toContain(t.split('.')[2] || t);
    }
  });

  it('refuses alg none and HS256 without fetching the JWKS', async () => {
    const { v: fresh } = verifier();
    const before = server.hits();
    const none = `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(claims()))}.`;
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    for (const t of [none, hs]) await expect(fresh.verify(t)).rejects.toMatchObject({ code: 'SLUICE_AUTH_INVALID' });
    expect(server.hits()).toBe(before);
  });

  it('lets tokens with made-up kids cost the issuer at most one fetch per cooldown', async () => {
    const { v: fresh } = verifier(server.url, { cooldownMs: 60_000 });
    await fresh.verify(await sign(rsa, claims()));
    const before = server.hits();
    for (let i = 0; i < 20; i++) {
      await expect(fresh.verify(await sign(rogue, claims(), { kid: `made-up-${i}` }))).rejects.toMatchObject({ code: 'SLUICE_AUTH_INVALID' });
    }
    expect(server.hits()).toBe(before);
    expect(fresh.status().jwks).toMatchObject({ kids: ['rsa-1', 'rsa-2', 'ec-1'], fresh: true, fetches: 1, lastError: null });
  });
});

describe('JwtVerifier key rotation', () => {
  it('accepts a new kid as soon as the cooldown since the last fetch has passed', async () => {
    const s = await startJwksServer([rsa.jwk]);
    servers.push(s);
    const { v } = verifier(s.url, { cooldownMs: 50 });
    expect(await v.verify(await sign(rsa, claims()))).toMatchObject({ user: 'alice' });

    const next = await makeKey('rsa-next');
    s.keys = [rsa.jwk, next.jwk];
    const token = await sign(next, claims({ sub: 'bob' }));
    // Within the cooldown the unknown kid is refused; after it, one fetch finds the new key.
    const identity = await waitFor('the new kid to verify', () => v.verify(token));
    expect(identity).toEqual({ user: 'bob', tier: 'premium', via: 'jwt' });
    expect(v.status().jwks.kids).toEqual(['rsa-1', 'rsa-next']);
  });

  it('refuses tokens of a removed key once the cache age has passed', async () => {
    const s = await startJwksServer([rsa.jwk, rsa2.jwk]);
    servers.push(s);
    const { v } = verifier(s.url, { cooldownMs: 20, cacheMaxAgeMs: 200 });
    const old = await sign(rsa, claims());
    const kept = await sign(rsa2, claims({ sub: 'carol' }));
    await v.verify(old);

    s.keys = [rsa2.jwk];
    const refused = await waitFor('the removed key to stop verifying', () => outcome(v.verify(old)).then((o) => ('code' in o ? o : null)));
    expect(refused).toEqual({ code: 'SLUICE_AUTH_INVALID', message: "JWT names no key the issuer's JWKS has (kid rsa-1, alg RS256)" });
    expect(await v.verify(kept)).toMatchObject({ user: 'carol' });
  });
});

describe('JwtVerifier with an unavailable JWKS', () => {
  it.each<[string, () => Promise<string>, JwksOptions, RegExp]>([
    ['nothing listens', () => deadUrl(), {}, /could not be fetched: fetch failed: .*ECONNREFUSED/],
    ['it answers 500', async () => {
      const s = await startJwksServer([]);
      servers.push(s);
      s.failure = 500;
      return s.url;
    }, {}, /answered HTTP 500$/],
    ['it redirects', async () => {
      const s = await startJwksServer([]);
      servers.push(s);
      s.failure = 302;
      return s.url;
    }, {}, /answered HTTP 302 \(redirects are not followed\)$/],
    ['it never answers', async () => {
      const s = await startJwksServer([]);
      servers.push(s);
      s.failure = 'hang';
      return s.url;
    }, { timeoutMs: 100 }, /did not answer within 100 ms$/],
  ])('answers SLUICE_AUTH_UNAVAILABLE when %s, and logs it once', async (_name, url, opts, why) => {
    const uri = await url();
    const { v, lines } = verifier(uri, opts);
    const token = await sign(rsa, claims());
    for (let i = 0; i < 3; i++) {
      const got = await outcome(v.verify(token));
      expect(got).toEqual({ code: 'SLUICE_AUTH_UNAVAILABLE', message: expect.stringMatching(why) });
      expect((got as { message: string }).message).toContain(`the issuer's JWKS ${uri} `);
    }
    expect(lines.filter((l) => String(l.msg).startsWith('JWKS unavailable'))).toHaveLength(1);
    expect(v.status().jwks.lastError).toMatch(why);
  });

  it('recovers when the JWKS comes back', async () => {
    const s = await startJwksServer([rsa.jwk]);
    servers.push(s);
    s.failure = 503;
    const { v, lines } = verifier(s.url);
    const token = await sign(rsa, claims());
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'SLUICE_AUTH_UNAVAILABLE' });
    s.failure = null;
    expect(await v.verify(token)).toMatchObject({ user: 'alice' });
    expect(v.status().jwks.lastError).toBeNull();
    expect(lines.some((l) => l.msg === 'JWKS available again')).toBe(true);
  });
});
