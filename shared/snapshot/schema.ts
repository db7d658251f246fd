/**
 * The RoutingSnapshot: everything a data plane needs to route, compiled by the operator from the
 * API objects and pushed whole. Immutable once built; a data plane validates it on receipt and
 * swaps it in with one reference assignment. The schema is the single source for its type and
 * its validator.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { INFERENCE_ENGINES, KV_CONNECTOR_TYPES } from '../api/model-server';
import { RATE_LIMIT_FAILURE_MODES, RATE_LIMIT_SCOPES, RATE_LIMIT_UNITS } from '../api/model-route';
import { StringEnum } from '../api/schema-kit';
import { SchedulerConfig } from '../config/scheduler-config';
import { AuthConfig, FairnessConfig, IdentityConfig, QueueConfig } from '../config/router-policy';

/** The snapshot format; bumped on incompatible changes. */
export const SNAPSHOT_API_VERSION = 'sluice.dev/v1alpha1';

const Match = Type.Object({
  exact: Type.Optional(Type.String()),
  prefix: Type.Optional(Type.String()),
  regex: Type.Optional(Type.String()),
}, { additionalProperties: false });

/**
 * A rule target: a ModelServer key (`namespace/name`), or with `external` an ExternalModelProvider
 * key, and its weight; unresolved ones stay, marked.
 */
export const SnapshotTarget = Type.Object({
  server: Type.String({ minLength: 3 }),
  external: Type.Optional(Type.Literal(true)),
  weight: Type.Integer({ minimum: 0, maximum: 100 }),
  resolved: Type.Boolean(),
}, { additionalProperties: false });

/** A compiled rule. Header names are lower-case. */
export const SnapshotRule = Type.Object({
  name: Type.String(),
  headers: Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), match: Match }, { additionalProperties: false })),
  uri: Type.Optional(Match),
  bodyModel: Type.Optional(Type.String()),
  targets: Type.Array(SnapshotTarget, { minItems: 1 }),
}, { additionalProperties: false });

const Limits = {
  inputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1 })),
  outputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1 })),
};

/** A route's token rate limit: the limits, whose budget they are, tier overrides, and Redis for a global one. */
export const SnapshotRateLimit = Type.Object({
  ...Limits,
  unit: StringEnum(RATE_LIMIT_UNITS),
  per: StringEnum(RATE_LIMIT_SCOPES),
  tiers: Type.Record(Type.String(), Type.Object(Limits, { additionalProperties: false })),
  redis: Type.Optional(Type.Object({
    address: Type.String({ minLength: 3 }),
    failureMode: StringEnum(RATE_LIMIT_FAILURE_MODES),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** A compiled ModelRoute. */
export const SnapshotRoute = Type.Object({
  key: Type.String({ minLength: 3 }),
  modelName: Type.Optional(Type.String({ minLength: 1 })),
  loraAdapters: Type.Array(Type.String({ minLength: 1 })),
  rules: Type.Array(SnapshotRule, { minItems: 1 }),
  rateLimit: Type.Optional(SnapshotRateLimit),
}, { additionalProperties: false });

/** One engine pod of a ModelServer. */
export const SnapshotEndpoint = Type.Object({
  pod: Type.String({ minLength: 3 }),
  address: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  role: Type.Optional(StringEnum(['prefill', 'decode'] as const)),
  group: Type.Optional(Type.String()),
}, { additionalProperties: false });

/** A compiled ModelServer with its ready endpoints. */
export const SnapshotServer = Type.Object({
  key: Type.String({ minLength: 3 }),
  model: Type.Optional(Type.String()),
  engine: StringEnum(INFERENCE_ENGINES),
  protocol: StringEnum(['http', 'https'] as const),
  /** `trafficPolicy.timeout`: deadline for the response headers, from the request's arrival. */
  timeoutMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** `sluice.dev/request-deadline`: deadline for the whole exchange (a stream is cut), from arrival. */
  deadlineMs: Type.Optional(Type.Number({ minimum: 1 })),
  retry: Type.Object({ attempts: Type.Integer({ minimum: 0 }), intervalMs: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
  kvConnector: Type.Optional(StringEnum(KV_CONNECTOR_TYPES)),
  pd: Type.Boolean(),
  /** Key into the snapshot's `schedulers`. */
  scheduler: Type.String({ minLength: 1 }),
  /** Request queue settings; absent when the server does not queue. */
  queue: Type.Optional(QueueConfig),
  /** Load missing LoRA adapters on the chosen endpoint; absent when not enabled. */
  loraLoad: Type.Optional(Type.Object({ pathTemplate: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
  /** Engine KV-event publishers (vLLM ZeroMQ), one per pod at this port; absent when not configured. */
  kvEvents: Type.Optional(Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    replayPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    topic: Type.String({ maxLength: 256 }),
  }, { additionalProperties: false })),
  /** How requests are tokenized for precise prefix scoring; absent when no scorer needs tokens. */
  tokenizer: Type.Optional(Type.Union([
    Type.Object({ kind: Type.Literal('engine') }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('file'), path: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/' }) }, { additionalProperties: false }),
  ])),
  endpoints: Type.Array(SnapshotEndpoint),
}, { additionalProperties: false });

/**
 * A compiled ExternalModelProvider. The credential itself is never in a snapshot (which is stored in
 * a ConfigMap and readable with the read token): only which Secret key it is and a version, which
 * the data plane matches against the credentials the operator pushes separately.
 */
export const SnapshotProvider = Type.Object({
  key: Type.String({ minLength: 3 }),
  type: Type.Literal('OpenAI'),
  /** The API root, without a trailing slash. */
  baseURL: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://' }),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  insecureSkipVerify: Type.Boolean(),
  /** Static headers, names lower-case. */
  headers: Type.Record(Type.String(), Type.String()),
  credential: Type.Optional(Type.Object({
    /** `namespace/name` of the Secret, and its key: for messages only. */
    secret: Type.String({ minLength: 3 }),
    key: Type.String({ minLength: 1 }),
    /** Identifies the value (not derived from it in a cluster); the data plane holds values by it. */
    version: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  }, { additionalProperties: false })),
  /** Why the provider cannot be used (its Secret is missing); requests to it get 503 with this. */
  unavailable: Type.Optional(Type.String()),
}, { additionalProperties: false });

/**
 * Highest snapshot version: Number.MAX_SAFE_INTEGER (2^53 − 1). Above it `v + 1 === v`, so an
 * operator renumbering above a data plane's version could never get ahead and would push for ever.
 */
export const MAX_SNAPSHOT_VERSION = Number.MAX_SAFE_INTEGER;

/** The whole snapshot. Routes are in precedence order (oldest first). */
export const RoutingSnapshot = Type.Object({
  apiVersion: Type.Literal(SNAPSHOT_API_VERSION),
  kind: Type.Literal('RoutingSnapshot'),
  version: Type.Integer({ minimum: 1, maximum: MAX_SNAPSHOT_VERSION }),
  hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  generatedAt: Type.String(),
  routes: Type.Array(SnapshotRoute),
  servers: Type.Array(SnapshotServer),
  /** External OpenAI-compatible providers that targets name; absent when none. */
  providers: Type.Optional(Type.Array(SnapshotProvider)),
  /** Normalised scheduler configurations by key (`default`, or `namespace/configmap`). */
  schedulers: Type.Record(Type.String(), SchedulerConfig),
  /** Router-wide authentication; absent means none. */
  auth: Type.Optional(AuthConfig),
  /** Identity headers trusted when auth is off. */
  identity: Type.Optional(IdentityConfig),
  /** Fairness queue ordering; absent means the defaults. */
  fairness: Type.Optional(FairnessConfig),
}, { additionalProperties: false });

/** A routing snapshot. */
export type RoutingSnapshot = Static<typeof RoutingSnapshot>;
/** A compiled route. */
export type SnapshotRoute = Static<typeof SnapshotRoute>;
/** A compiled rule. */
export type SnapshotRule = Static<typeof SnapshotRule>;
/** A compiled server. */
export type SnapshotServer = Static<typeof SnapshotServer>;
/** A compiled rate limit. */
export type SnapshotRateLimit = Static<typeof SnapshotRateLimit>;
/** A compiled external provider. */
export type SnapshotProvider = Static<typeof SnapshotProvider>;
/** A compiled endpoint. */
export type SnapshotEndpoint = Static<typeof SnapshotEndpoint>;

/** Compiled once: the data plane checks every pushed snapshot with it. */
export const snapshotChecker = TypeCompiler.Compile(RoutingSnapshot);
