/**
 * Who sent a request: the data plane's one entry point for authentication, rebuilt from each
 * routing snapshot's `auth` and `identity` settings.
 *
 * | auth configured      | credential                          | identity                          |
 * |----------------------|-------------------------------------|-----------------------------------|
 * | none                 | not read                            | identity headers, else anonymous  |
 * | apiKeys              | bearer or x-api-key is a key        | the key's id and tier             |
 * | jwt                  | bearer or x-api-key is a JWT        | the user and tier claims          |
 * | apiKeys and jwt      | JWT-shaped → JWT, otherwise a key   | either of the above               |
 *
 * With auth on, the identity headers are ignored: a client could otherwise claim any user (and its
 * rate limits and fairness share) by setting a header. They are meant for a trusted gateway in
 * front of Sluice that authenticated the user itself, with auth off.
 *
 * The credential is taken from `Authorization: Bearer <x>`, or else from `x-api-key: <x>` (some
 * SDKs, such as Anthropic's, send keys that way). Only JWT verification is asynchronous; every
 * other path answers synchronously, so a router without auth allocates no Promise per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ANONYMOUS, type AuthConfig, type Identity, type IdentityConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import type { Logger } from '../../shared/log/logger';
import { ApiKeyStore, type ApiKeyStoreOptions, type ApiKeyStoreStatus } from './api-key-store';
import { JwtVerifier, looksLikeJwt, sameJwtConfig, type JwksOptions, type JwtVerifierStatus } from './jwt-verifier';

/** Which credentials are accepted. */
export type AuthMode = 'none' | 'api-key' | 'jwt' | 'api-key+jwt';

/** Tuning passed to the parts (tests shorten JWKS and file-watch timings). */
export interface AuthenticatorOptions {
  jwks?: JwksOptions;
  apiKeys?: ApiKeyStoreOptions;
}

/** The authenticator's state for `/debug/config_dump/auth`. */
export interface AuthStatus {
  readonly mode: AuthMode;
  /** The configured identity headers, and whether they are read (only with auth off). */
  readonly identityHeaders: { readonly userHeader: string | null; readonly tierHeader: string | null; readonly read: boolean };
  readonly jwt: JwtVerifierStatus | null;
  readonly apiKeys: ApiKeyStoreStatus | null;
}

/** `<scheme> <credential>`; the scheme is case-insensitive (RFC 9110 §11.1). */
const AUTHORIZATION = /^(\S+)(?:\s+(.*?))?\s*$/;

/** Schemes safe to name in an error; anything else may be a bare key sent without a scheme. */
const KNOWN_SCHEMES = new Set(['basic', 'digest', 'negotiate', 'ntlm', 'token', 'apikey', 'hoba', 'mutual']);

const NOT_JWT = 'the bearer credential is not a JWT (three base64url parts separated by dots); this router accepts JWTs only';

/** A header's single value; a repeated header (string[]) counts by its first value. */
function headerValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

/**
 * The presented credential, or null when there is none. `Authorization` wins over `x-api-key`;
 * an Authorization scheme other than Bearer is refused rather than silently passed over.
 */
function credentialOf(headers: IncomingHttpHeaders): string | null {
  const authz = headers.authorization;
  if (authz !== undefined && authz !== '') {
    const m = AUTHORIZATION.exec(authz);
    const scheme = m?.[1] ?? '';
    if (scheme.toLowerCase() !== 'bearer') {
      const named = KNOWN_SCHEMES.has(scheme.toLowerCase()) ? `scheme ${scheme}` : 'a scheme other than Bearer (or no scheme)';
      throw new SluiceError('SLUICE_AUTH_INVALID', `Authorization uses ${named}; send Authorization: Bearer <credential>`);
    }
    const credential = m?.[2] ?? '';
    if (/\s/.test(credential)) throw new SluiceError('SLUICE_AUTH_INVALID', 'Authorization: Bearer takes one credential without spaces');
    if (credential !== '') return credential;
  }
  return headerValue(headers['x-api-key']) ?? null;
}

/** Authenticates requests with the auth settings of the serving snapshot. */
export class Authenticator {
  private readonly log: Logger;
  private readonly opts: AuthenticatorOptions;
  private mode: AuthMode = 'none';
  private keys: ApiKeyStore | null = null;
  private jwt: JwtVerifier | null = null;
  private userHeader: string | null = null;
  private tierHeader: string | null = null;
  private requiredMessage = '';

  /** Builds the parts the settings need; the API key file is read before this returns. */
  constructor(auth: AuthConfig | undefined, identity: IdentityConfig | undefined, log: Logger, opts: AuthenticatorOptions = {}) {
    this.log = log.child({ subsystem: 'auth' });
    this.opts = opts;
    this.update(auth, identity);
  }

  /**
   * The identity of a request. Synchronous except for JWT verification, which returns a Promise.
   * Failures are SluiceErrors: thrown on the synchronous paths, a rejected Promise on the JWT path.
   * SLUICE_AUTH_REQUIRED without a credential, SLUICE_AUTH_INVALID for a wrong one,
   * SLUICE_AUTH_UNAVAILABLE when the JWKS or the key file cannot be used.
   */
  authenticate(headers: IncomingHttpHeaders): Identity | Promise<Identity> {
    if (this.mode === 'none') return this.fromHeaders(headers);
    const credential = credentialOf(headers);
    if (credential === null) throw new SluiceError('SLUICE_AUTH_REQUIRED', this.requiredMessage);
    const jwt = this.jwt;
    const keys = this.keys;
    if (jwt !== null && (keys === null || looksLikeJwt(credential))) {
      if (keys === null && !looksLikeJwt(credential)) throw new SluiceError('SLUICE_AUTH_INVALID', NOT_JWT);
      return jwt.verify(credential);
    }
    // The mode says keys !== null here.
    const identity = keys!.lookup(credential);
    if (identity === null) throw new SluiceError('SLUICE_AUTH_INVALID', 'unknown API key');
    return identity;
  }

  /**
   * Applies a new snapshot's settings. An unchanged key file path keeps its store (and its loaded
   * keys), an unchanged JWT configuration keeps its verifier (and its cached JWKS); replaced parts
   * are closed. Verifications in flight finish on the part they started with.
   */
  update(auth: AuthConfig | undefined, identity: IdentityConfig | undefined): void {
    const file = auth?.apiKeys?.file ?? null;
    if (this.keys !== null && this.keys.file !== file) {
      this.keys.close();
      this.keys = null;
    }
    if (file !== null && this.keys === null) this.keys = new ApiKeyStore(file, this.log, this.opts.apiKeys);

    const jwtConfig = auth?.jwt ?? null;
    if (this.jwt !== null && (jwtConfig === null || !sameJwtConfig(this.jwt.config, jwtConfig))) {
      this.jwt.close();
      this.jwt = null;
    }
    if (jwtConfig !== null && this.jwt === null) this.jwt = new JwtVerifier(jwtConfig, this.log, this.opts.jwks);

    this.userHeader = identity?.userHeader?.toLowerCase() ?? null;
    this.tierHeader = identity?.tierHeader?.toLowerCase() ?? null;

    const mode: AuthMode = this.keys && this.jwt ? 'api-key+jwt' : this.keys ? 'api-key' : this.jwt ? 'jwt' : 'none';
    const what = { 'none': '', 'api-key': 'an API key', 'jwt': 'a JWT', 'api-key+jwt': 'an API key or a JWT' }[mode];
    this.requiredMessage = `authentication required: send ${what} as Authorization: Bearer <credential> (or x-api-key: <credential>)`;
    if (mode !== this.mode) {
      this.log.info({ mode, previous: this.mode, identityHeadersIgnored: mode !== 'none' && (this.userHeader ?? this.tierHeader) !== null }, 'authentication mode');
    }
    this.mode = mode;
  }

  /** The current settings and the parts' state, for `/debug/config_dump/auth`. */
  status(): AuthStatus {
    return {
      mode: this.mode,
      identityHeaders: { userHeader: this.userHeader, tierHeader: this.tierHeader, read: this.mode === 'none' },
      jwt: this.jwt?.status() ?? null,
      apiKeys: this.keys?.status() ?? null,
    };
  }

  /** Stops the key file watch. */
  close(): void {
    this.keys?.close();
    this.jwt?.close();
  }

  /** Auth off: the trusted gateway's headers, or anonymous. */
  private fromHeaders(headers: IncomingHttpHeaders): Identity {
    const user = this.userHeader === null ? undefined : headerValue(headers[this.userHeader]);
    const tier = this.tierHeader === null ? undefined : headerValue(headers[this.tierHeader]);
    if (user === undefined && tier === undefined) return ANONYMOUS;
    return { user: user ?? ANONYMOUS.user, tier: tier ?? null, via: 'header' };
  }
}
