/**
 * What the prefill/decode registries know about a pod (a SimPod is one), and the PD-group rule:
 * KV moves only between pods of the same group, i.e. the same value of the ModelServer's
 * `pdGroup.groupKey` label, the same namespace and the same served model. Pods without a group
 * form one group per namespace and model, so hand-written simulator setups pair without labels.
 */
import type { Engine, PodRole } from './engine';
import type { EngineFlavour } from './metrics';

/** A live simulated pod as the PD registries see it. */
export interface PdPeer {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  /** Bound port (valid once listening). */
  readonly port: number;
  /** Served base model. */
  readonly model: string;
  readonly flavour: EngineFlavour;
  readonly role: PodRole;
  /** The pdGroup.groupKey label value, or null. */
  readonly group: string | null;
  /** NIXL engine id: pod name plus a process-unique suffix. */
  readonly kvEngineId: string;
  /** Its engine (counters, clock, profile, KV cache). */
  readonly engine: Engine;
}

/** True when the pod can run a prefill for another pod (role prefill or both). */
export function canPrefill(p: PdPeer): boolean {
  return p.role !== 'decode';
}

/** True when the pod can decode a prompt prefilled elsewhere (role decode or both). */
export function canDecode(p: PdPeer): boolean {
  return p.role !== 'prefill';
}

/** Identity of a pod's PD group: namespace, model and group label value. */
export function groupId(p: PdPeer): string {
  return JSON.stringify([p.namespace, p.model, p.group]);
}

function describeGroup(p: PdPeer, full: boolean): string {
  const g = p.group === null ? 'no group' : `group ${p.group}`;
  return full ? `${g} (model ${p.model}, namespace ${p.namespace})` : g;
}

/**
 * Null when KV may move from `prefill` to `decode`, else the message of the 400, e.g.
 * "prefill pod A is in group g1, this decode pod B is in group g2: KV cannot move between groups".
 */
export function groupMismatch(prefill: PdPeer, decode: PdPeer): string | null {
  if (groupId(prefill) === groupId(decode)) return null;
  const full = prefill.namespace !== decode.namespace || prefill.model !== decode.model;
  return (
    `prefill pod ${prefill.name} is in ${describeGroup(prefill, full)}, ` +
    `this decode pod ${decode.name} is in ${describeGroup(decode, full)}: KV cannot move between groups`
  );
}
