/**
 * Which objects get status, and what the writer must know of each. The compile sees an object's
 * last valid version; status must describe the version stored now. So a refused object is
 * described by its stored copy (its generation, its conditions), and one refused from its very
 * first version, which the compile never saw, still gets its Accepted=False.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObjectSet } from '../../shared/snapshot/compile';
import type { ObjectIssue } from './kube-source';
import { splitPoolParents } from './pool-status';
import type { StatusTarget, StoredCondition } from './status-writer';

type WithStatus = KubernetesObject & { status?: Record<string, unknown> };

/** The status target for `o`, or null for kinds that get no status. */
export function statusTarget(o: WithStatus, operatorNamespace: string): StatusTarget | null {
  const kind = o.kind;
  if (kind !== 'ModelRoute' && kind !== 'ModelServer' && kind !== 'ExternalModelProvider' && kind !== 'InferencePool') return null;
  const base = { kind: kind as StatusTarget['kind'], apiVersion: o.apiVersion ?? '', namespace: o.metadata?.namespace ?? 'default', name: o.metadata?.name ?? '', ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}), generation: o.metadata?.generation };
  if (kind === 'InferencePool') {
    const { mine, others } = splitPoolParents(base.apiVersion, o.status, operatorNamespace);
    return { ...base, ...(o.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}), existing: mine as StoredCondition[], otherParents: others };
  }
  return { ...base, existing: (o.status?.conditions ?? []) as StoredCondition[] };
}

/** Every object to write status for: the compiled ones, with refused ones described as stored now. */
export function statusTargets(objects: ObjectSet, refused: readonly ObjectIssue[], operatorNamespace: string): StatusTarget[] {
  const byKey = new Map<string, StatusTarget>();
  const add = (o: WithStatus) => {
    const t = statusTarget(o, operatorNamespace);
    if (t) byKey.set(`${t.apiVersion} ${t.kind} ${t.namespace}/${t.name}`, t);
  };
  for (const o of [...objects.routes, ...objects.servers, ...(objects.externalProviders ?? []), ...(objects.inferencePools ?? [])]) add(o as unknown as WithStatus);
  for (const i of refused) add(i.current as WithStatus);
  return [...byKey.values()];
}
