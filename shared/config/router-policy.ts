/**
 * Router-wide traffic governance settings, as carried in the routing snapshot: who a request is
 * (auth and identity), and how the fairness queue orders users. They come from the router-wide
 * ConfigMap's `routerConfiguration` (Kthena's `auth:` plus Sluice's `identity:` and `fairness:`)
 * and are defined once here as TypeBox schemas, so the snapshot validator and the types agree.
 * Per-route rate limits live on the ModelRoute; per-server queue settings on ModelServer and
 * InferencePool annotations.
 */
import { Type, type Static } from '@sinclair/typebox';

/** JWT verification (Kthena's `auth:` issuer/audiences/jwksUri, plus Sluice's tuning knobs). */
export const JwtAuthConfig = Type.Object({
  /** Expected `iss` claim. */
  issuer: Type.String({ minLength: 1 }),
  /** Accepted `aud` values; a token must carry at least one. */
  audiences: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  /** http(s) URL of the issuer's JWKS document. */
  jwksUri: Type.String({ minLength: 1 }),
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
  clockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300 }),
  /** Claim holding the user identity (default `sub`). */
  userClaim: Type.String({ minLength: 1 }),
  /** Claim holding the tier (default `tier`); absent claim means no tier. */
  tierClaim: Type.String({ minLength: 1 }),
}, { additionalProperties: false });

/** API keys read from a mounted Secret file. */
export const ApiKeyAuthConfig = Type.Object({
  /** Path of the key file inside the data-plane pod. */
  file: Type.String({ minLength: 1 }),
}, { additionalProperties: false });

/** Authentication: absent means none; with both, a request may use either. */
export const AuthConfig = Type.Object({
  jwt: Type.Optional(JwtAuthConfig),
  apiKeys: Type.Optional(ApiKeyAuthConfig),
  /**
   * `GET /v1/models` answers without a credential. Unset (false) by default: the list names every
   * model and LoRA adapter served, which is not for anonymous callers when auth is on.
   */
  publicModelList: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

/**
 * Identity without authentication: headers set by a trusted gateway in front of Sluice. Read only
 * when auth is off (with auth on, identity comes from the key or token and these are ignored).
 */
export const IdentityConfig = Type.Object({
  userHeader: Type.Optional(Type.String({ minLength: 1, pattern: '^[a-z0-9-]+$' })),
  tierHeader: Type.Optional(Type.String({ minLength: 1, pattern: '^[a-z0-9-]+$' })),
}, { additionalProperties: false });

/** How the fairness queue orders users (router-wide; which servers queue is per server). */
export const FairnessConfig = Type.Object({
  /** Length of the sliding window of recent usage, ms. */
  windowMs: Type.Integer({ minimum: 1000 }),
  /** Weight of an input (prompt) token in a user's usage. */
  inputTokenWeight: Type.Number({ minimum: 0 }),
  /** Weight of an output (generated) token in a user's usage. */
  outputTokenWeight: Type.Number({ minimum: 0 }),
  /** Request header carrying an integer priority band (higher first); unset means not read. */
  priorityHeader: Type.Optional(Type.String({ minLength: 1, pattern: '^[a-z0-9-]+$' })),
  /** Priority band by tier; a header value wins over the tier's band. */
  tierPriorities: Type.Record(Type.String(), Type.Integer({ minimum: -100, maximum: 100 })),
}, { additionalProperties: false });

/** Per-server queue settings (from ModelServer or InferencePool annotations). */
export const QueueConfig = Type.Object({
  /** Sum of queued request body bytes above which the oldest queued requests are dropped. */
  maxBytes: Type.Integer({ minimum: 1 }),
  /** Number of queued requests above which the oldest are dropped. */
  maxRequests: Type.Integer({ minimum: 1 }),
  /** Longest a request may wait in the queue, ms. */
  ttlMs: Type.Integer({ minimum: 1 }),
  /** Requests this data plane sends to one endpoint at once; unset means no cap (metrics only). */
  maxInFlightPerEndpoint: Type.Optional(Type.Integer({ minimum: 1 })),
}, { additionalProperties: false });

/** Authentication settings. */
export type AuthConfig = Static<typeof AuthConfig>;
/** JWT settings. */
export type JwtAuthConfig = Static<typeof JwtAuthConfig>;
/** API key settings. */
export type ApiKeyAuthConfig = Static<typeof ApiKeyAuthConfig>;
/** Header identity settings. */
export type IdentityConfig = Static<typeof IdentityConfig>;
/** Fairness ordering settings. */
export type FairnessConfig = Static<typeof FairnessConfig>;
/** Per-server queue settings. */
export type QueueConfig = Static<typeof QueueConfig>;

/** Fairness defaults: a one-minute window, output tokens weighted as input tokens. */
export const FAIRNESS_DEFAULTS: FairnessConfig = { windowMs: 60_000, inputTokenWeight: 1, outputTokenWeight: 1, tierPriorities: {} };

/** Queue defaults: seed 003's 100 MiB and 30 s, at most 10,000 requests, no in-flight cap. */
export const QUEUE_DEFAULTS: QueueConfig = { maxBytes: 104_857_600, maxRequests: 10_000, ttlMs: 30_000 };

/** Who sent a request, as every later stage (rate limits, fairness, logs) sees it. */
export interface Identity {
  /** Stable user id: the API key's id, the JWT's user claim, the user header, or `anonymous`. */
  readonly user: string;
  /** Tier from the key file, the JWT tier claim or the tier header; null when none. */
  readonly tier: string | null;
  /** Where the identity came from. */
  readonly via: 'api-key' | 'jwt' | 'header' | 'anonymous';
}

/** The identity of requests nobody vouched for. */
export const ANONYMOUS: Identity = Object.freeze({ user: 'anonymous', tier: null, via: 'anonymous' });
