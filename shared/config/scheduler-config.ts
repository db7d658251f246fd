/**
 * The normalised scheduler configuration: what every dialect (Kthena's schedulerConfiguration,
 * the endpoint picker's EndpointPickerConfig, InferencePool annotations) becomes, what the
 * snapshot carries and what the data plane instantiates. Defaults are already applied, so a dump
 * shows exactly what runs.
 */
import { Type, type Static } from '@sinclair/typebox';

/** One plugin instance: a name to reference it by, its type, and its parameters (defaults filled). */
export const PluginInstance = Type.Object({
  name: Type.String({ minLength: 1 }),
  type: Type.String({ minLength: 1 }),
  parameters: Type.Record(Type.String(), Type.Unknown()),
}, { additionalProperties: false });

/** A scorer reference with its weight in the profile's weighted sum. */
export const WeightedScorer = Type.Object({
  plugin: Type.String({ minLength: 1 }),
  weight: Type.Number({ exclusiveMinimum: 0 }),
}, { additionalProperties: false });

/** A scheduling profile: filters in order, weighted scorers, one picker. */
export const SchedulingProfile = Type.Object({
  name: Type.String({ minLength: 1 }),
  filters: Type.Array(Type.String({ minLength: 1 })),
  scorers: Type.Array(WeightedScorer),
  picker: Type.String({ minLength: 1 }),
}, { additionalProperties: false });

/** Where a configuration came from, for dumps and status messages. */
export const CONFIG_SOURCES = ['default', 'kthena', 'endpoint-picker', 'inference-pool-annotations'] as const;

/** The normalised configuration. */
export const SchedulerConfig = Type.Object({
  source: Type.Union(CONFIG_SOURCES.map((s) => Type.Literal(s))),
  /** e.g. `ConfigMap default/kthena-router-config key schedulerConfiguration`. */
  origin: Type.String(),
  plugins: Type.Array(PluginInstance),
  profileHandler: Type.String({ minLength: 1 }),
  profiles: Type.Array(SchedulingProfile, { minItems: 1 }),
}, { additionalProperties: false });

/** A normalised scheduler configuration. */
export type SchedulerConfig = Static<typeof SchedulerConfig>;
/** One plugin instance. */
export type PluginInstance = Static<typeof PluginInstance>;
/** One scheduling profile. */
export type SchedulingProfile = Static<typeof SchedulingProfile>;
