/**
 * Verifies bearer JWTs against the issuer's JWKS (Kthena's `auth: {issuer, audiences, jwksUri}`).
 *
 * Checks, in order: the header's `alg` is an asymmetric algorithm (JWT_ALGORITHMS), a key of the
 * JWKS verifies the signature, `iss` equals the issuer, `aud` holds one of the audiences, `exp`
 * is present and not passed and `nbf` has arrived, each within `clockSkewSeconds`. The user is
 * the `userClaim` claim and the tier the `tierClaim` claim.
 *
 * `exp` is required: a token without one would be valid forever, and a leaked one could never be
 * retired except by rotating the issuer's key for everybody.
 *
 * The JWKS is jose's remote key set: fetched on first use, kept for `cacheMaxAgeMs` (removed keys
 * stop verifying at most that long after the issuer drops them), and re-fetched at once when a
 * token names a `kid` it does not hold, unless the last fetch is younger than `cooldownMs` (so
 * tokens with made-up kids cost the issuer at most one fetch per cooldown). When the cache has
 * expired and the JWKS cannot be fetched, verification fails with SLUICE_AUTH_UNAVAILABLE: the
 * router cannot tell good tokens from bad ones, and that is not the client's fault.
 */
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { Identity, JwtAuthConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import type { Logger } from '../../shared/log/logger';

/**
 * The algorithms a token may be signed with: asymmetric only. `none` carries no signature, and
 * HS* would verify an HMAC keyed with the JWKS's *public* key, which anyone can compute (the
 * classic key-confusion attack). jose refuses both with a JWKS too; the list makes it explicit.
 */
export const JWT_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/** JWKS fetching and caching; the defaults suit production, tests shorten them. */
export interface JwksOptions {
  /** After a fetch, how long an unknown `kid` is refused without fetching again, ms (default 5000). */
  cooldownMs?: number;
  /** How long fetched keys are used before the next token fetches them again, ms (default 600000). */
  cacheMaxAgeMs?: number;
  /** How long one JWKS fetch may take, ms (default 5000). */
  timeoutMs?: number;
}

/**
 * Defaults: a 5 s cooldown picks up a new signing key within seconds of the first token that uses
 * it (jose's own default, 30 s, would refuse that token's users for half a minute); 10 minutes of
 * cache bounds how long a key the issuer removed keeps working; 5 s bounds how long requests wait
 * on a slow issuer.
 */
export const JWKS_DEFAULTS: Readonly<Required<JwksOptions>> = Object.freeze({ cooldownMs: 5_000, cacheMaxAgeMs: 600_000, timeoutMs: 5_000 });

/** The verifier's state for the debug endpoint. */
export interface JwtVerifierStatus {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string;
  readonly clockSkewSeconds: number;
  readonly userClaim: string;
  readonly tierClaim: string;
  readonly algorithms: readonly string[];
  readonly jwks: Required<JwksOptions> & {
    /** `kid`s of the cached keys (public keys, so safe to show). */
    readonly kids: string[];
    /** False when the next token will fetch the JWKS first. */
    readonly fresh: boolean;
    readonly fetches: number;
    readonly lastFetchAt: string | null;
    /** Why the last key resolution failed, null once one succeeded. */
    readonly lastError: string | null;
  };
}

/** True when two JWT settings would verify the same way (a verifier and its JWKS cache may be kept). */
export function sameJwtConfig(a: JwtAuthConfig, b: JwtAuthConfig): boolean {
  return a.issuer === b.issuer && a.jwksUri === b.jwksUri && a.clockSkewSeconds === b.clockSkewSeconds
    && a.userClaim === b.userClaim && a.tierClaim === b.tierClaim
    && a.audiences.length === b.audiences.length && a.audiences.every((x, i) => x === b.audiences[i]);
}

/** Three base64url parts separated by dots; the signature may be empty (as in `alg: none`). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when a credential is shaped like a compact JWT (an API key never is, unless made so). */
export function looksLikeJwt(credential: string): boolean {
  return JWT_SHAPE.test(credential);
}

/** The JWKS could not be obtained: not the token's fault. */
class JwksUnavailable extends Error {}

/** A JWKS answer other than 200, thrown from the fetch so the message can name the status. */
class JwksHttpStatus extends Error {}

const codeOf = (err: unknown): string | undefined => (err as { code?: unknown })?.code as string | undefined;

/** A claim value for an error message: the token's claims are the client's own, but bound the length. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function iso(seconds: unknown): string {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : show(seconds);
}

function causeText(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
}

/** Verifies tokens for one JwtAuthConfig, with its own JWKS cache. */
export class JwtVerifier {
  /** The settings this verifier was built from. */
  readonly config: JwtAuthConfig;
  private readonly log: Logger;
  private readonly jwksOpts: Required<JwksOptions>;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly getKey: JWTVerifyGetKey;
  /** Built once: jwtVerify's options are the same for every token. */
  private readonly verifyOptions: JWTVerifyOptions;
  private readonly skewText: string;
  private fetches = 0;
  private lastFetchAt: Date | null = null;
  private lastError: string | null = null;

  /** Builds the verifier; nothing is fetched until the first token. */
  constructor(config: JwtAuthConfig, log: Logger, opts: JwksOptions = {}) {
    this.config = config;
    this.log = log.child({ jwksUri: config.jwksUri });
    this.jwksOpts = { ...JWKS_DEFAULTS, ...opts };
    this.skewText = `clock skew allowance ${config.clockSkewSeconds}s`;
    this.jwks = createRemoteJWKSet(new URL(config.jwksUri), {
      cooldownDuration: this.jwksOpts.cooldownMs,
      cacheMaxAge: this.jwksOpts.cacheMaxAgeMs,
      timeoutDuration: this.jwksOpts.timeoutMs,
      [customFetch]: (url, init) => this.fetchJwks(url, init),
    });
    this.getKey = async (header, token) => {
      try {
        const key = await this.jwks(header, token);
        this.recovered();
        return key;
      } catch (err) {
        // A kid the JWKS does not have is the token's problem; anything else (unreachable,
        // timeout, not 200, not a JWKS, an unusable key in it) is the issuer's.
        const code = codeOf(err);
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
          this.recovered();
          throw err;
        }
        throw this.unavailable(err);
      }
    };
    this.verifyOptions = {
      issuer: config.issuer,
      audience: config.audiences,
      clockTolerance: config.clockSkewSeconds,
      algorithms: [...JWT_ALGORITHMS],
      requiredClaims: ['exp'],
    };
  }

  /**
   * Verifies a compact JWT and returns who it identifies. Rejects with SLUICE_AUTH_INVALID (the
   * message says which check failed, never the token) or SLUICE_AUTH_UNAVAILABLE (JWKS unusable).
   */
  async verify(token: string): Promise<Identity> {
    const header = this.checkHeader(token);
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, this.getKey, this.verifyOptions)).payload;
    } catch (err) {
      if (codeOf(err) === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
        payload = await this.verifyWithEach(token, err as AsyncIterable<CryptoKey>).catch((e: unknown) => { throw this.explain(e, header); });
      } else throw this.explain(err, header);
    }
    const user = payload[this.config.userClaim];
    if (typeof user !== 'string' || user === '') {
      throw new SluiceError('SLUICE_AUTH_INVALID', `JWT has no string "${this.config.userClaim}" claim to identify the user (the router's auth.userClaim)`);
    }
    const tier = payload[this.config.tierClaim];
    return { user, tier: typeof tier === 'string' && tier !== '' ? tier : null, via: 'jwt' };
  }

  /** The verifier's state for `/debug/config_dump/auth`. */
  status(): JwtVerifierStatus {
    const set = this.jwks.jwks();
    return {
      issuer: this.config.issuer,
      audiences: this.config.audiences,
      jwksUri: this.config.jwksUri,
      clockSkewSeconds: this.config.clockSkewSeconds,
      userClaim: this.config.userClaim,
      tierClaim: this.config.tierClaim,
      algorithms: JWT_ALGORITHMS,
      jwks: {
        ...this.jwksOpts,
        kids: (set?.keys ?? []).map((k) => k.kid ?? '(no kid)'),
        fresh: this.jwks.fresh,
        fetches: this.fetches,
        lastFetchAt: this.lastFetchAt?.toISOString() ?? null,
        lastError: this.lastError,
      },
    };
  }

  /** Nothing to release (jose holds no sockets between fetches); kept so owners treat parts alike. */
  close(): void {}

  /** Refuses what no key could make valid before anything is fetched, with a precise reason. */
  private checkHeader(token: string): { alg: string; kid?: string } {
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new SluiceError('SLUICE_AUTH_INVALID', 'JWT header is not base64url-encoded JSON');
    }
    const { alg, kid } = header;
    if (typeof alg !== 'string' || alg === '') throw new SluiceError('SLUICE_AUTH_INVALID', 'JWT header has no alg');
    if (alg.toLowerCase() === 'none') throw new SluiceError('SLUICE_AUTH_INVALID', 'JWT signed with alg none is refused');
    if (!JWT_ALGORITHMS.includes(alg)) {
      const why = /^HS/i.test(alg) ? ' (a shared-secret algorithm; the JWKS holds public keys)' : '';
      throw new SluiceError('SLUICE_AUTH_INVALID', `JWT signed with alg ${show(alg)} is refused${why}; accepted: ${JWT_ALGORITHMS.join(', ')}`);
    }
    return typeof kid === 'string' ? { alg, kid } : { alg };
  }

  /** Several JWKS keys fit a token (no kid, or a repeated kid): the one that verifies wins. */
  private async verifyWithEach(token: string, candidates: AsyncIterable<CryptoKey>): Promise<JWTPayload> {
    let last: unknown = null;
    for await (const key of candidates) {
      try {
        return (await jwtVerify(token, key, this.verifyOptions)).payload;
      } catch (err) {
        if (codeOf(err) !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw err;
        last = err;
      }
    }
    throw last ?? Object.assign(new Error('no usable key'), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  }

  /** Turns a jose error into the SluiceError a client sees. */
  private explain(err: unknown, header: { alg: string; kid?: string }): SluiceError {
    if (err instanceof SluiceError) return err;
    if (err instanceof JwksUnavailable) return new SluiceError('SLUICE_AUTH_UNAVAILABLE', err.message);
    const e = err as Error & { claim?: string; reason?: string; payload?: JWTPayload };
    const keyText = header.kid !== undefined ? `kid ${show(header.kid)}, alg ${header.alg}` : `no kid, alg ${header.alg}`;
    const invalid = (message: string) => new SluiceError('SLUICE_AUTH_INVALID', message);
    switch (codeOf(err)) {
      case 'ERR_JWT_EXPIRED':
        return invalid(`JWT expired at ${iso(e.payload?.exp)} (${this.skewText})`);
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.reason === 'missing') return invalid(`JWT has no "${e.claim}" claim${e.claim === 'exp' ? '; tokens without an expiry are refused' : ''}`);
        if (e.reason === 'invalid') return invalid(`JWT ${e.message}`);
        if (e.claim === 'iss') return invalid(`JWT issuer mismatch: token iss ${show(e.payload?.iss)}, expected ${this.config.issuer}`);
        if (e.claim === 'aud') {
          const aud = e.payload?.aud;
          const list = (Array.isArray(aud) ? aud : [aud]).map(show).join(', ');
          return invalid(`JWT audience mismatch: token aud [${list}], accepted [${this.config.audiences.join(', ')}]`);
        }
        if (e.claim === 'nbf') return invalid(`JWT not valid before ${iso(e.payload?.nbf)} (${this.skewText})`);
        return invalid(`JWT claim ${show(e.claim)} failed verification: ${e.message}`);
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return invalid(`JWT signature does not verify with the issuer's key (${keyText})`);
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return invalid(`JWT names no key the issuer's JWKS has (${keyText})`);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return invalid(`JWT signed with alg ${show(header.alg)} is refused; accepted: ${JWT_ALGORITHMS.join(', ')}`);
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return invalid(`JWT is malformed: ${e.message}`);
      default:
        // jose's remaining errors (an unsupported crit header, an RSA key under 2048 bits) and
        // anything unforeseen: refuse, and say what jose said.
        return invalid(`JWT verification failed: ${e.message}`);
    }
  }

  private async fetchJwks(url: string, init: { headers: Headers; method: 'GET'; redirect: 'manual'; signal: AbortSignal }): Promise<Response> {
    this.fetches++;
    const res = await fetch(url, init);
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new JwksHttpStatus(`answered HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`);
    }
    this.lastFetchAt = new Date();
    return res;
  }

  private unavailable(err: unknown): JwksUnavailable {
    let why: string;
    if (err instanceof JwksHttpStatus) why = err.message;
    else if (codeOf(err) === 'ERR_JWKS_TIMEOUT') why = `did not answer within ${this.jwksOpts.timeoutMs} ms`;
    else if (codeOf(err) === 'ERR_JWKS_INVALID') why = `is not a usable JSON Web Key Set: ${(err as Error).message}`;
    else why = `could not be fetched: ${causeText(err)}`;
    const message = `JWT cannot be verified now: the issuer's JWKS ${this.config.jwksUri} ${why}`;
    // Log the change, not every request while the issuer is down.
    if (message !== this.lastError) this.log.warn({ err: message }, 'JWKS unavailable; JWT requests get SLUICE_AUTH_UNAVAILABLE');
    this.lastError = message;
    return new JwksUnavailable(message);
  }

  private recovered(): void {
    if (this.lastError === null) return;
    this.lastError = null;
    this.log.info('JWKS available again');
  }
}
