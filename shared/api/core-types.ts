/**
 * The few core Kubernetes kinds the compiler reads: Pods (labels, phase, readiness, IP) and
 * ConfigMaps (router configuration). Only the fields Sluice uses are typed; the rest pass through.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ObjectMeta, StringMap } from './schema-kit';

/** A Pod, as far as routing cares. */
export const Pod = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Pod'),
  metadata: ObjectMeta,
  spec: Type.Optional(Type.Object({}, { additionalProperties: true })),
  status: Type.Optional(Type.Object({
    phase: Type.Optional(Type.String()),
    podIP: Type.Optional(Type.String()),
    conditions: Type.Optional(Type.Array(Type.Object({
      type: Type.String(),
      status: Type.String(),
    }, { additionalProperties: true }))),
  }, { additionalProperties: true })),
}, { additionalProperties: true });

/** A ConfigMap. */
export const ConfigMap = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('ConfigMap'),
  metadata: ObjectMeta,
  data: Type.Optional(StringMap()),
  binaryData: Type.Optional(StringMap()),
}, { additionalProperties: true });

/** A Pod. */
export type Pod = Static<typeof Pod>;
/** A ConfigMap. */
export type ConfigMap = Static<typeof ConfigMap>;

/** True when the pod can take traffic: phase Running, condition Ready=True and an IP. */
export function isPodReady(pod: Pod): boolean {
  const status = pod.status;
  if (!status || status.phase !== 'Running' || !status.podIP) return false;
  return (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
