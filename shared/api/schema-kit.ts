/**
 * Building blocks for the API schemas. The schemas are written once with TypeBox; the same
 * objects give the TypeScript types (`Static`), the runtime validator (`Value.Errors`) and the
 * CRD OpenAPI v3 schemas (`crd.ts`). Only keywords that Kubernetes structural schemas accept are
 * used, so the conversion to a CRD is a plain walk.
 */
import { FormatRegistry, Kind, Type, TypeRegistry, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox';

const STRING_ENUM = 'StringEnum';

// TypeBox checks a custom kind through its registry; a string enum is `type: string` + `enum`,
// which Kubernetes understands, unlike TypeBox's default `anyOf` of `const` literals.
if (!TypeRegistry.Has(STRING_ENUM)) {
  TypeRegistry.Set(STRING_ENUM, (schema: { enum: readonly string[] }, value) =>
    typeof value === 'string' && schema.enum.includes(value));
}

// TypeBox checks string formats through its registry; conditions carry RFC 3339 timestamps.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)));
}

/** A string limited to `values`, emitted as `{type: string, enum: [...]}`. */
export function StringEnum<T extends readonly string[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: STRING_ENUM, type: 'string', enum: values });
}

/** A string → string map (labels, headers), emitted as `additionalProperties: {type: string}`. */
export function StringMap(options: SchemaOptions = {}) {
  return Type.Record(Type.String(), Type.String(), options);
}

/**
 * A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
 * characters that starts and ends with a letter or digit (`app`, `app.kubernetes.io/name`).
 */
export const LABEL_KEY_PATTERN = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

/** What to do about a bad label key, shared by the CEL rule and the operator's check. */
export const LABEL_KEY_FIX = 'label keys are [prefix/]name: name at most 63 characters of letters, digits, -, _ and ., starting and ending with a letter or digit; prefix a DNS subdomain such as app.kubernetes.io';

/**
 * A label selector map (`matchLabels`): string to string, at most 64 entries, every key a valid
 * label key. The bound keeps the CEL cost estimate of the key rule within the API server's budget.
 */
export function LabelMap(options: SchemaOptions = {}) {
  return Type.Record(Type.String(), Type.String(), {
    maxProperties: 64,
    ...options,
    'x-kubernetes-validations': [{ rule: `self.all(k, size(k) <= 317 && k.matches('${LABEL_KEY_PATTERN}'))`, message: `invalid label key; ${LABEL_KEY_FIX}` }],
  });
}

/** A map of string keys to `value`, emitted as `additionalProperties: value`. */
export function MapOf<T extends TSchema>(value: T, options: SchemaOptions = {}) {
  return Type.Record(Type.String(), value, options);
}

/** Go duration text, as Kubernetes APIs write timeouts: `10s`, `1m30s`, `250ms`. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';

/** A Go duration string with a description. */
export function Duration(description: string, options: SchemaOptions = {}) {
  return Type.String({ ...options, description, pattern: DURATION_PATTERN });
}

/**
 * The standard Kubernetes condition (metav1.Condition). The descriptions are generic: each status's
 * `conditions` field says which types Sluice writes on that kind.
 */
export const Condition = Type.Object({
  type: Type.String({ description: 'Type of condition in CamelCase, one condition per type; the conditions field lists the types Sluice writes.', maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Whether the condition holds: True, False or Unknown.' }),
  observedGeneration: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'The .metadata.generation the condition describes. Below the object\'s generation it describes an older version: Sluice has not processed the latest edit yet, '
      + 'or refused it, and then Accepted=False (reason Invalid) carries the refused generation.',
  })),
  lastTransitionTime: Type.String({ format: 'date-time', description: 'Last time the condition changed status (RFC 3339); a new reason or message alone does not change it.' }),
  reason: Type.String({ maxLength: 1024, description: 'Programmatic identifier of the last transition, CamelCase, e.g. EndpointsReady, NoPodsSelected, ModelServerNotFound, Invalid.' }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable message: what is wrong and how to fix it.' }),
}, { description: 'One aspect of the object\'s state, as a metav1.Condition.' });

/** The part of ObjectMeta that Sluice reads. Other fields are allowed and ignored. */
export const ObjectMeta = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the object, unique per kind in its namespace.' }),
  namespace: Type.Optional(Type.String({ maxLength: 63, description: 'Namespace of the object; unset means default.' })),
  generation: Type.Optional(Type.Integer({ description: 'Sequence number of the spec, raised by the API server on each change; conditions name it as observedGeneration.' })),
  creationTimestamp: Type.Optional(Type.String({ description: 'When the object was created; when several ModelRoutes serve a name, the oldest is tried first.' })),
  resourceVersion: Type.Optional(Type.String({ description: 'Opaque version of the object, set by the API server.' })),
  uid: Type.Optional(Type.String({ description: 'Unique id of the object, set by the API server.' })),
  labels: Type.Optional(StringMap({ description: 'Labels; a ModelServer\'s workloadSelector matches pod labels.' })),
  annotations: Type.Optional(StringMap({ description: 'Annotations; Sluice reads its sluice.dev/ keys (scheduler, queueing, request deadline, LoRA loading, KV events, tokenizer).' })),
}, { additionalProperties: true, description: 'Standard object metadata; Sluice reads the fields listed and ignores the others.' });
