/**
 * ModelRoute (networking.serving.volcano.sh/v1alpha1): which ModelServers serve a model name or
 * LoRA adapter, by ordered rules. Field for field the Kthena Router API, so Kthena YAML applies
 * unchanged. The schema here is the single source for the type, the validator and the CRD.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Condition, MapOf, ObjectMeta, StringEnum } from './schema-kit';

/**
 * Match a string exactly, by prefix or by regular expression. At most one may be set; none set
 * matches every value, header absent included, as Kthena's router does (its `matchString`
 * falls through to true).
 */
export function stringMatch(description: string) {
  return Type.Object({
    exact: Type.Optional(Type.String({ description: 'Matches when the value equals this string.' })),
    prefix: Type.Optional(Type.String({ description: 'Matches when the value starts with this string.' })),
    regex: Type.Optional(Type.String({ description: 'An ECMAScript regular expression; unanchored, so add ^ and $ for a whole-string match.' })),
  }, {
    additionalProperties: false,
    description,
    'x-kubernetes-validations': [{ rule: '[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() <= 1', message: 'set at most one of exact, prefix or regex (none matches every value)' }],
  });
}
/** The shape of a header or URI match. */
export const StringMatch = stringMatch('StringMatch defines the matching conditions for string fields. At most one of the fields may be set; none matches every value.');

/** Exactly one destination per target; the CEL rule and the operator say the same. */
const TARGET_XOR_RULE = "(has(self.modelServerName) && self.modelServerName != '') != (has(self.externalModelProviderName) && self.externalModelProviderName != '')";
/** The message for a target with both or neither destination. */
export const TARGET_XOR_FIX = 'set exactly one of modelServerName (pods) or externalModelProviderName (an external API)';
/** The message for an external target on a LoRA route. */
export const LORA_EXTERNAL_FIX = 'a route with loraAdapters can only target ModelServers (an OpenAI-compatible provider has no way to name a Kthena LoRA adapter); put the external target in a separate ModelRoute without loraAdapters';

/** Conditions for a rule to apply; empty means every request. */
export const ModelMatch = Type.Object({
  headers: Type.Optional(MapOf(stringMatch('How to match the header value. At most one of the fields may be set; none matches every request.'), {
    // The bound keeps the API server's CEL cost estimate for the per-header rule within budget
    // (unbounded, it is refused when the CRD is created); 16 as Gateway API's HTTPRoute header matches.
    maxProperties: 16,
    description: 'Request headers to match (names are case-insensitive); all must match. At most 16.',
  })),
  uri: Type.Optional(stringMatch('Request path (without the query string) to match. Unset matches every path.')),
  body: Type.Optional(Type.Object({
    model: Type.Optional(Type.String({ description: 'The `model` of the request body (base model or LoRA adapter name), compared exactly. Unset matches every model.' })),
  }, { additionalProperties: false, description: 'Conditions on the request body.' })),
}, { additionalProperties: false, description: 'Match conditions to be satisfied for the rule to be activated; every condition set must hold. Empty `modelMatch` means matching all requests.' });

/** A ModelServer or an ExternalModelProvider that receives a share of a rule's traffic. */
export const TargetModel = Type.Object({
  modelServerName: Type.Optional(Type.String({ description: 'Name of a ModelServer (or InferencePool) in the same namespace as the route. Exactly one of modelServerName and externalModelProviderName is set.' })),
  externalModelProviderName: Type.Optional(Type.String({ description: 'Name of an ExternalModelProvider in the same namespace: the share goes to that OpenAI-compatible API instead of pods. Not allowed on a route with loraAdapters.' })),
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 100, description: 'Relative share of the rule\'s traffic, 0 to 100.' })),
}, {
  additionalProperties: false,
  'x-kubernetes-validations': [{ rule: TARGET_XOR_RULE, message: TARGET_XOR_FIX }],
});

/** The message for a rule whose weights are all 0; shared by the CEL rule and the operator. */
export const ZERO_WEIGHTS_FIX = 'every target has weight 0, so the rule could send no request anywhere; give at least one target a weight above 0 (unset means 100)';

/** One routing rule; the first rule whose modelMatch holds is used. */
export const Rule = Type.Object({
  name: Type.Optional(Type.String({ description: 'Name of the rule, shown in the access log (`rule`) and in error messages. Unset: `rule-<index>`.' })),
  modelMatch: Type.Optional(ModelMatch),
  targetModels: Type.Array(TargetModel, {
    minItems: 1,
    maxItems: 16,
    description: 'The ModelServers that share the rule\'s traffic, 1 to 16, picked by weight with smooth weighted round-robin (each data-plane replica keeps its own rotation). '
      + 'A name with no ModelServer may be an InferencePool in the same namespace. A target that exists in neither keeps its share: its requests get 500 SLUICE_TARGET_UNRESOLVED and ResolvedRefs names it.',
  }),
}, {
  additionalProperties: false,
  description: 'A routing rule: when modelMatch holds, the request goes to one of targetModels.',
  // Kthena's webhook refuses a rule whose total weight is 0 ("total weight must be greater than zero").
  'x-kubernetes-validations': [{ rule: 'self.targetModels.exists(t, !has(t.weight) || t.weight > 0)', message: ZERO_WEIGHTS_FIX, fieldPath: '.targetModels' }],
});

/** Rate-limit units, as Kthena spells them. */
export const RATE_LIMIT_UNITS = ['second', 'minute', 'hour', 'day', 'month'] as const;

/** Whose budget a rate limit is: the whole route's, each user's, or each tier's. */
export const RATE_LIMIT_SCOPES = ['route', 'user', 'tier'] as const;

/** What a global limit does while its Redis is unreachable. */
export const RATE_LIMIT_FAILURE_MODES = ['open', 'closed'] as const;

/** The two limits, as a tier override. */
const TierLimits = Type.Object({
  inputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1, description: 'Maximum prompt tokens per unit for this tier; unset keeps the route\'s inputTokensPerUnit.' })),
  outputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1, description: 'Maximum generated tokens per unit for this tier; unset keeps the route\'s outputTokensPerUnit.' })),
}, { additionalProperties: false, description: 'The limits for users of one tier; a tier resizes a limit, it cannot remove one.' });

/** Token rate limit for a route. */
export const RateLimit = Type.Object({
  inputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1, description: 'Maximum prompt tokens per unit; unset means no limit. Checked against an estimate (prompt characters / 4) before forwarding, corrected by the response\'s usage.' })),
  outputTokensPerUnit: Type.Optional(Type.Integer({ minimum: 1, description: 'Maximum generated tokens per unit; unset means no limit. A request is admitted while the budget is above 0 and charged the response\'s completion tokens.' })),
  unit: StringEnum(RATE_LIMIT_UNITS, { default: 'second', description: 'The time unit of the limits (a month is 30 days).' }),
  per: Type.Optional(StringEnum(RATE_LIMIT_SCOPES, { default: 'route', description: 'Sluice: whose budget the limits are. route: one for all requests of the route; user: one per user identity (API key id, JWT subject or identity header); tier: one shared by the users of each tier.' })),
  tiers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), TierLimits, { maxProperties: 32, description: 'Sluice: limits by identity tier (needs per: user or tier). For users of a listed tier, each limit set here replaces the route\'s; users without a listed tier get the route\'s limits.' })),
  global: Type.Optional(Type.Object({
    redis: Type.Optional(Type.Object({
      address: Type.String({ minLength: 1, description: 'Redis address as host:port.' }),
    }, { additionalProperties: false, description: 'The Redis that holds the shared budgets. Required when global is set.' })),
    failureMode: Type.Optional(StringEnum(RATE_LIMIT_FAILURE_MODES, { default: 'open', description: 'Sluice: while Redis is unreachable, open admits requests against a local bucket of the same limits on each data-plane replica; closed refuses them with 503.' })),
  }, { additionalProperties: false, description: 'When set, the limit is shared by every data-plane replica through Redis.' })),
}, {
  additionalProperties: false,
  description: 'Token rate limit, checked by the data plane after routing and before queueing or forwarding; a request over it gets 429 SLUICE_RATE_LIMITED. '
    + 'Each data-plane replica keeps its own budget unless global is set. No limit when unset. Sluice adds per, tiers and global.failureMode to Kthena\'s fields.',
  'x-kubernetes-validations': [{
    rule: '!has(self.tiers) || (has(self.per) && self.per != "route")',
    message: 'tiers needs per: user or per: tier; with per: route every request shares one budget and has no tier to look up',
    fieldPath: '.tiers',
  }],
});

/** A Gateway API parent reference (accepted for Kthena compatibility). */
export const ParentRef = Type.Object({
  group: Type.Optional(Type.String({ default: 'gateway.networking.k8s.io', maxLength: 253, description: 'API group of the parent. Not read by Sluice.' })),
  kind: Type.Optional(Type.String({ default: 'Gateway', maxLength: 63, description: 'Kind of the parent. Not read by Sluice.' })),
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the parent. Not read by Sluice.' }),
  namespace: Type.Optional(Type.String({ maxLength: 63, description: 'Namespace of the parent; unset means the route\'s namespace. Not read by Sluice.' })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Port of the parent listener to attach to. Not read by Sluice.' })),
  sectionName: Type.Optional(Type.String({ maxLength: 253, description: 'Name of a section of the parent, such as a Gateway listener. Not read by Sluice.' })),
}, { additionalProperties: false, description: 'A Gateway API ParentReference. Kept for Kthena compatibility; Sluice does not read it.' });

/** ModelRoute spec. */
export const ModelRouteSpec = Type.Object({
  modelName: Type.Optional(Type.String({
    description: 'The `model` of requests this route serves. It, loraAdapters, or both must be set. When several routes serve a name, the oldest route\'s rules are tried first. '
      + 'Immutable: it cannot be added, changed or removed after creation.',
  })),
  loraAdapters: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
    maxItems: 10,
    description: 'LoRA adapter names this route serves, at most 10. A request naming one keeps the adapter name in its body for the engine. Route modelNames are looked up before adapters.',
  })),
  parentRefs: Type.Optional(Type.Array(ParentRef, { description: 'Gateways this route attaches to (in Kthena, unset means every Gateway in the namespace). Accepted for compatibility; every Sluice data plane serves every route.' })),
  rules: Type.Array(Rule, { minItems: 1, maxItems: 16, description: 'Ordered rules, at most 16; the first whose modelMatch holds is used. When no rule of any route serving the model matches, the answer is 404 SLUICE_MODEL_NOT_FOUND.' }),
  rateLimit: Type.Optional(RateLimit),
}, {
  additionalProperties: false,
  description: 'Which request `model` names this route serves (modelName, loraAdapters) and, by ordered rules, which ModelServers get them. Kthena\'s ModelRouteSpec field for field, plus Sluice\'s rateLimit extensions.',
  'x-kubernetes-validations': [{
    rule: '(has(self.modelName) && self.modelName != "") || (has(self.loraAdapters) && size(self.loraAdapters) > 0)',
    message: 'set spec.modelName or spec.loraAdapters (or both)',
  }, {
    // A transition rule on the optional field itself (`self == oldSelf` on modelName) runs only
    // when both old and new objects have the field, so removing or adding modelName got through.
    // Here, on the required spec, it runs on every update.
    rule: 'has(self.modelName) == has(oldSelf.modelName) && (!has(self.modelName) || self.modelName == oldSelf.modelName)',
    message: 'modelName is immutable: it cannot be added, changed or removed; create a new ModelRoute instead',
    fieldPath: '.modelName',
  }, {
    rule: '!has(self.loraAdapters) || size(self.loraAdapters) == 0 || self.rules.all(r, r.targetModels.all(t, !has(t.externalModelProviderName) || t.externalModelProviderName == ""))',
    message: LORA_EXTERNAL_FIX,
    fieldPath: '.rules',
  }],
});

/** Observed state written by the operator. */
export const ModelRouteStatus = Type.Object({
  conditions: Type.Optional(Type.Array(Condition, {
    description: 'Sluice writes three. Accepted: Sluice took the latest spec (False with reason Invalid names the refused field; the last valid version keeps serving). '
      + 'ResolvedRefs: every targetModels entry names an existing ModelServer or InferencePool. Programmed: every data-plane replica serves the snapshot that holds this route.',
  })),
}, { additionalProperties: false, description: 'Observed state, written by the Sluice operator. Sluice only: Kthena\'s ModelRoute status is empty.' });

/** The ModelRoute object. */
export const ModelRoute = Type.Object({
  apiVersion: Type.Literal('networking.serving.volcano.sh/v1alpha1'),
  kind: Type.Literal('ModelRoute'),
  metadata: ObjectMeta,
  spec: ModelRouteSpec,
  status: Type.Optional(ModelRouteStatus),
}, { additionalProperties: false });

/** A ModelRoute with defaults applied. */
export type ModelRoute = Static<typeof ModelRoute>;
/** A ModelRoute rule. */
export type Rule = Static<typeof Rule>;
/** A string match. */
export type StringMatch = Static<typeof StringMatch>;
