/**
 * Reads the router-wide governance sections of Kthena's `routerConfiguration` text:
 *
 *     auth:                          # Kthena: issuer, audiences, jwksUri (JWT); Sluice adds the rest
 *       issuer: "testing@secure.istio.io"
 *       audiences: ["kthena.io"]
 *       jwksUri: "https://…/jwks.json"
 *       clockSkew: 30s               # default 30s, at most 5m
 *       userClaim: sub               # default sub
 *       tierClaim: tier              # default tier
 *       apiKeys: {file: /etc/sluice/api-keys/keys.yaml}
 *     identity: {userHeader: x-user-id, tierHeader: x-user-tier}
 *     fairness: {window: 60s, inputTokenWeight: 1, outputTokenWeight: 1, priorityHeader: x-sluice-priority, tierPriorities: {premium: 10}}
 *
 * Every problem is reported with its path. The JWT fields are all or none: half a JWT setup would
 * either let every token of the issuer in (no audience) or none (no keys).
 */
import { type Issue } from '../api/validate';
import { parseDuration } from '../util/duration';
import { describe, fieldPath, isRecord, unknownKeys } from './dialect-common';
import { FAIRNESS_DEFAULTS, type AuthConfig, type FairnessConfig, type IdentityConfig } from './router-policy';

/** The governance settings a router configuration carries. */
export interface RouterPolicy {
  auth?: AuthConfig;
  identity?: IdentityConfig;
  fairness?: FairnessConfig;
}

/** The keys of `routerConfiguration` this file reads. */
export const POLICY_KEYS = ['auth', 'identity', 'fairness'] as const;

const HEADER = /^[a-z0-9-]+$/;
const MAX_SKEW_MS = 300_000;

function headerName(raw: unknown, path: string, what: string, issues: Issue[]): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !HEADER.test(raw.toLowerCase())) {
    issues.push({ path, message: `${what} must be an HTTP header name such as x-user-id (got ${describe(raw)})` });
    return undefined;
  }
  return raw.toLowerCase();
}

function nonEmpty(raw: unknown, path: string, what: string, def: string, issues: Issue[]): string {
  if (raw === undefined) return def;
  if (typeof raw !== 'string' || raw.trim() === '') {
    issues.push({ path, message: `${what} must be a non-empty string (got ${describe(raw)}); default ${def}` });
    return def;
  }
  return raw;
}

function duration(raw: unknown, path: string, what: string, def: number, issues: Issue[]): number {
  if (raw === undefined) return def;
  const ms = typeof raw === 'string' ? parseDuration(raw) : null;
  if (ms === null) issues.push({ path, message: `${what} must be a duration such as 30s or 1m (got ${describe(raw)})` });
  return ms ?? def;
}

function parseAuth(raw: unknown, issues: Issue[]): AuthConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const path = 'auth';
  if (!isRecord(raw)) {
    issues.push({ path, message: `auth must be a mapping with issuer, audiences and jwksUri (JWT) and/or apiKeys (got ${describe(raw)})` });
    return undefined;
  }
  const before = issues.length;
  issues.push(...unknownKeys(raw, ['issuer', 'audiences', 'jwksUri', 'clockSkew', 'userClaim', 'tierClaim', 'apiKeys', 'publicModelList'], path, 'auth'));
  const out: AuthConfig = {};
  const { issuer, audiences, jwksUri } = raw;
  const jwtGiven = [issuer, audiences, jwksUri].some((v) => v !== undefined);
  if (jwtGiven) {
    if (typeof issuer !== 'string' || issuer.trim() === '') {
      issues.push({ path: fieldPath(path, 'issuer'), message: `auth.issuer must be the JWT issuer (the iss claim), a non-empty string (got ${describe(issuer)})` });
    }
    if (!Array.isArray(audiences) || audiences.length === 0) {
      issues.push({ path: fieldPath(path, 'audiences'), message: `auth.audiences must be a non-empty list of accepted aud claims, e.g. audiences: ["kthena.io"] (got ${describe(audiences)}); without one any token of the issuer would pass` });
    } else {
      audiences.forEach((a, i) => {
        if (typeof a !== 'string' || a.trim() === '') issues.push({ path: fieldPath(fieldPath(path, 'audiences'), i), message: `audiences must be non-empty strings (got ${describe(a)})` });
      });
    }
    let url: URL | undefined;
    try { url = typeof jwksUri === 'string' ? new URL(jwksUri) : undefined; } catch { url = undefined; }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      issues.push({ path: fieldPath(path, 'jwksUri'), message: `auth.jwksUri must be the http(s) URL of the issuer's JWKS document (got ${describe(jwksUri)})` });
    }
    const skew = duration(raw.clockSkew, fieldPath(path, 'clockSkew'), 'auth.clockSkew', 30_000, issues);
    if (skew > MAX_SKEW_MS) issues.push({ path: fieldPath(path, 'clockSkew'), message: `auth.clockSkew may be at most 5m (got ${describe(raw.clockSkew)}); a larger allowance keeps expired tokens alive` });
    out.jwt = {
      issuer: issuer as string,
      audiences: audiences as string[],
      jwksUri: jwksUri as string,
      clockSkewSeconds: Math.round(Math.min(skew, MAX_SKEW_MS) / 1000),
      userClaim: nonEmpty(raw.userClaim, fieldPath(path, 'userClaim'), 'auth.userClaim', 'sub', issues),
      tierClaim: nonEmpty(raw.tierClaim, fieldPath(path, 'tierClaim'), 'auth.tierClaim', 'tier', issues),
    };
  } else {
    for (const k of ['clockSkew', 'userClaim', 'tierClaim'].filter((key) => raw[key] !== undefined)) {
      issues.push({ path: fieldPath(path, k), message: `auth.${k} tunes JWT verification, which needs issuer, audiences and jwksUri; set those or remove ${k}` });
    }
  }
  if (raw.apiKeys !== undefined) {
    const p = fieldPath(path, 'apiKeys');
    if (!isRecord(raw.apiKeys) || typeof raw.apiKeys.file !== 'string' || !raw.apiKeys.file.startsWith('/')) {
      issues.push({ path: p, message: `auth.apiKeys must be {file: /absolute/path} naming the mounted key file, e.g. /etc/sluice/api-keys/keys.yaml (got ${describe(raw.apiKeys)})` });
    } else {
      issues.push(...unknownKeys(raw.apiKeys, ['file'], p, 'apiKeys'));
      out.apiKeys = { file: raw.apiKeys.file };
    }
  }
  if (raw.publicModelList !== undefined) {
    if (typeof raw.publicModelList !== 'boolean') {
      issues.push({ path: fieldPath(path, 'publicModelList'), message: `auth.publicModelList must be true (GET /v1/models answers without a credential) or false (the default: it needs one), got ${describe(raw.publicModelList)}` });
    } else if (raw.publicModelList) {
      // Only written when true, so snapshots (and their hashes) of existing configurations do not change.
      out.publicModelList = true;
    }
  }
  if (!jwtGiven && raw.apiKeys === undefined) {
    issues.push({ path, message: 'auth configures nothing: set issuer, audiences and jwksUri for JWT, apiKeys.file for API keys, or both; remove auth to run without authentication' });
  }
  return issues.length === before ? out : undefined;
}

function parseIdentity(raw: unknown, issues: Issue[]): IdentityConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    issues.push({ path: 'identity', message: `identity must be a mapping with userHeader and/or tierHeader (got ${describe(raw)})` });
    return undefined;
  }
  issues.push(...unknownKeys(raw, ['userHeader', 'tierHeader'], 'identity', 'identity'));
  const out: IdentityConfig = {};
  const user = headerName(raw.userHeader, 'identity.userHeader', 'identity.userHeader', issues);
  const tier = headerName(raw.tierHeader, 'identity.tierHeader', 'identity.tierHeader', issues);
  if (user) out.userHeader = user;
  if (tier) out.tierHeader = tier;
  return out;
}

function weight(raw: unknown, path: string, issues: Issue[]): number {
  if (raw === undefined) return 1;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) {
    issues.push({ path, message: `must be a number of at least 0 (got ${describe(raw)}); default 1` });
    return 1;
  }
  return raw;
}

function parseFairness(raw: unknown, issues: Issue[]): FairnessConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    issues.push({ path: 'fairness', message: `fairness must be a mapping (window, inputTokenWeight, outputTokenWeight, priorityHeader, tierPriorities; got ${describe(raw)})` });
    return undefined;
  }
  issues.push(...unknownKeys(raw, ['window', 'inputTokenWeight', 'outputTokenWeight', 'priorityHeader', 'tierPriorities'], 'fairness', 'fairness'));
  const windowMs = duration(raw.window, 'fairness.window', 'fairness.window', FAIRNESS_DEFAULTS.windowMs, issues);
  if (windowMs < 1000) issues.push({ path: 'fairness.window', message: `fairness.window must be at least 1s (got ${describe(raw.window)})` });
  const out: FairnessConfig = {
    windowMs: Math.max(1000, Math.round(windowMs)),
    inputTokenWeight: weight(raw.inputTokenWeight, 'fairness.inputTokenWeight', issues),
    outputTokenWeight: weight(raw.outputTokenWeight, 'fairness.outputTokenWeight', issues),
    tierPriorities: {},
  };
  const header = headerName(raw.priorityHeader, 'fairness.priorityHeader', 'fairness.priorityHeader', issues);
  if (header) out.priorityHeader = header;
  if (raw.tierPriorities !== undefined) {
    if (!isRecord(raw.tierPriorities)) issues.push({ path: 'fairness.tierPriorities', message: `must map tier names to integer bands, e.g. {premium: 10} (got ${describe(raw.tierPriorities)})` });
    else {
      for (const [tier, band] of Object.entries(raw.tierPriorities)) {
        if (typeof band !== 'number' || !Number.isInteger(band) || band < -100 || band > 100) {
          issues.push({ path: fieldPath('fairness.tierPriorities', tier), message: `must be a whole number from -100 to 100 (got ${describe(band)}); higher bands are served first` });
        } else out.tierPriorities[tier] = band;
      }
    }
  }
  return out;
}

/** Reads `auth`, `identity` and `fairness` from a parsed routerConfiguration document. */
export function parseRouterPolicy(doc: Record<string, unknown>, issues: Issue[]): RouterPolicy {
  const policy: RouterPolicy = {};
  const auth = parseAuth(doc.auth, issues);
  const identity = parseIdentity(doc.identity, issues);
  const fairness = parseFairness(doc.fairness, issues);
  if (auth) policy.auth = auth;
  if (identity) policy.identity = identity;
  if (fairness) policy.fairness = fairness;
  return policy;
}
