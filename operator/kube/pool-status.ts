/**
 * InferencePool status has no top-level conditions: Gateway API Inference Extension keeps one
 * entry per parent (`status.parents` in v1, `status.parent` in v1alpha2), each with a parentRef and
 * its own conditions. Sluice is not a Gateway, so it reports under a parentRef of its own
 * (`sluice.dev` `Router` `sluice` in the operator's namespace) and leaves other parents' entries as
 * they are. A merge patch replaces a whole list, so the write carries the resourceVersion it read:
 * if another controller changed the list meanwhile, the API server answers 409 and the next
 * reconcile writes again from the newer copy.
 */

/** The API versions of InferencePool Sluice reads. */
export const POOL_V1 = 'inference.networking.k8s.io/v1';
export const POOL_V1ALPHA2 = 'inference.networking.x-k8s.io/v1alpha2';

/** Group, kind and name of the parentRef Sluice reports under. */
export const SLUICE_PARENT = { group: 'sluice.dev', kind: 'Router', name: 'sluice' } as const;

/** A status.parents entry, loosely typed: other controllers' entries pass through untouched. */
export interface PoolParentStatus {
  parentRef?: { group?: string; apiVersion?: string; kind?: string; name?: string; namespace?: string };
  conditions?: unknown[];
  [other: string]: unknown;
}

/** The status field holding the parent list: `parents` in v1, `parent` in v1alpha2. */
export function parentsField(apiVersion: string): 'parents' | 'parent' {
  return apiVersion === POOL_V1ALPHA2 ? 'parent' : 'parents';
}

/** Sluice's parentRef in the shape of `apiVersion` (v1alpha2 uses an ObjectReference). */
export function sluiceParentRef(apiVersion: string, namespace: string): NonNullable<PoolParentStatus['parentRef']> {
  return apiVersion === POOL_V1ALPHA2
    ? { apiVersion: `${SLUICE_PARENT.group}/v1`, kind: SLUICE_PARENT.kind, name: SLUICE_PARENT.name, namespace }
    : { group: SLUICE_PARENT.group, kind: SLUICE_PARENT.kind, name: SLUICE_PARENT.name, namespace };
}

/** True when `entry` is the one Sluice (of the operator in `namespace`) writes. */
export function isSluiceParent(entry: PoolParentStatus, namespace: string): boolean {
  const ref = entry.parentRef ?? {};
  const group = ref.group ?? ref.apiVersion?.split('/')[0];
  return group === SLUICE_PARENT.group && ref.kind === SLUICE_PARENT.kind && ref.name === SLUICE_PARENT.name && ref.namespace === namespace;
}

/** Splits a stored pool status into Sluice's conditions and every other parent's entry. */
export function splitPoolParents(apiVersion: string, status: Record<string, unknown> | undefined, namespace: string): { mine: unknown[]; others: PoolParentStatus[] } {
  const list = (status?.[parentsField(apiVersion)] ?? []) as PoolParentStatus[];
  const own = list.find((p) => isSluiceParent(p, namespace));
  return { mine: own?.conditions ?? [], others: list.filter((p) => !isSluiceParent(p, namespace)) };
}

/** The status subresource path of a pool. */
export function poolStatusPath(apiVersion: string, namespace: string, name: string): string {
  return `/apis/${apiVersion}/namespaces/${namespace}/inferencepools/${name}/status`;
}
