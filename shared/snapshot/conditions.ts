/** Status conditions the compiler derives, before the operator stamps transition times on them. */

/** A condition as compiled: the operator adds lastTransitionTime when it writes status. */
export interface CompiledCondition {
  type: 'Accepted' | 'ResolvedRefs' | 'Programmed' | 'Ready' | 'SchedulerConfigured' | 'QueueConfigured' | 'AdaptersConfigured' | 'KvEventsConfigured' | 'DeadlineConfigured' | 'CredentialsResolved';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** Status computed for one object, keyed in the compile result by `Kind/namespace/name`. */
export interface CompiledStatus {
  conditions: CompiledCondition[];
  /** ModelServer only: selected pods that are Running and Ready, and all selected pods. */
  readyEndpoints?: number;
  totalEndpoints?: number;
}

/** Key of an object in status maps. */
export function statusKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
