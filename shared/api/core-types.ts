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

/**
 * A Secret: only an ExternalModelProvider's `auth.secretRef` is read from one. `data` is base64 as
 * the API server stores it; `stringData` (plain text, as written in YAML) is read by the folder
 * source, where no API server folds it into `data`.
 */
export const Secret = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Secret'),
  metadata: ObjectMeta,
  type: Type.Optional(Type.String()),
  data: Type.Optional(StringMap()),
  stringData: Type.Optional(StringMap()),
}, { additionalProperties: true });

/** A Secret. */
export type Secret = Static<typeof Secret>;

/** The value of `key` in a Secret (`stringData` wins, as the API server merges it), or null. */
export function secretValue(secret: Secret, key: string): string | null {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const b64 = secret.data?.[key];
  return b64 === undefined ? null : Buffer.from(b64, 'base64').toString('utf8');
}

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
