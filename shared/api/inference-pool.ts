/**
 * InferencePool (Gateway API Inference Extension), read so a ModelRoute can target a pool by
 * name and a pool's annotations can configure its scheduler (seed 003). Both the x-k8s.io
 * v1alpha2 shape (`targetPortNumber`, `selector` map) and the GA v1 shape (`targetPorts`,
 * `selector.matchLabels`) are accepted. Sluice does not own this API, so fields it does not read
 * pass through unchecked rather than being refused.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ObjectMeta, StringMap } from './schema-kit';

/** inference.networking.x-k8s.io/v1alpha2 InferencePool. */
export const InferencePoolV1alpha2 = Type.Object({
  apiVersion: Type.Literal('inference.networking.x-k8s.io/v1alpha2'),
  kind: Type.Literal('InferencePool'),
  metadata: ObjectMeta,
  spec: Type.Object({
    targetPortNumber: Type.Integer({ minimum: 1, maximum: 65535 }),
    selector: StringMap(),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

/** inference.networking.k8s.io/v1 InferencePool. */
export const InferencePoolV1 = Type.Object({
  apiVersion: Type.Literal('inference.networking.k8s.io/v1'),
  kind: Type.Literal('InferencePool'),
  metadata: ObjectMeta,
  spec: Type.Object({
    targetPorts: Type.Array(Type.Object({ number: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: true }), { minItems: 1 }),
    selector: Type.Object({ matchLabels: StringMap() }, { additionalProperties: true }),
  }, { additionalProperties: true }),
}, { additionalProperties: true });

/** Either version. */
export type InferencePool = Static<typeof InferencePoolV1alpha2> | Static<typeof InferencePoolV1>;

/** The pod selector and port of a pool, whichever version it is. */
export function poolTarget(pool: InferencePool): { matchLabels: Record<string, string>; port: number } {
  if (pool.apiVersion === 'inference.networking.x-k8s.io/v1alpha2') return { matchLabels: pool.spec.selector, port: pool.spec.targetPortNumber };
  return { matchLabels: pool.spec.selector.matchLabels, port: pool.spec.targetPorts[0]!.number };
}
