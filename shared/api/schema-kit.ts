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

/** The standard Kubernetes condition (metav1.Condition). */
export const Condition = Type.Object({
  type: Type.String({ description: 'Type of condition in CamelCase.', maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'The .metadata.generation the condition was set for.' })),
  lastTransitionTime: Type.String({ format: 'date-time', description: 'Last time the condition changed status.' }),
  reason: Type.String({ maxLength: 1024, description: 'Programmatic identifier of the last transition, CamelCase.' }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable message: what is wrong and how to fix it.' }),
});

/** The part of ObjectMeta that Sluice reads. Other fields are allowed and ignored. */
export const ObjectMeta = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253 }),
  namespace: Type.Optional(Type.String({ maxLength: 63 })),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  labels: Type.Optional(StringMap()),
  annotations: Type.Optional(StringMap()),
}, { additionalProperties: true });
