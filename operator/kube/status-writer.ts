/**
 * Writes status conditions back to ModelRoutes, ModelServers and InferencePools, so
 * `kubectl describe` alone tells a user why a route works or not: the compiled conditions
 * (Accepted, ResolvedRefs, Ready, SchedulerConfigured) plus, for routes, Programmed ("applied on
 * N/M data-plane replicas", counting only replicas that reported serving the snapshot's hash).
 * An object Sluice refuses gets Accepted=False naming the field, with the refused generation as
 * observedGeneration, even while its last valid version keeps serving. lastTransitionTime changes
 * only when a condition's status does; an object is patched only when what it would show
 * changed, so steady state writes nothing. Refusals and Programmed changes are also recorded as
 * Events (condition-events.ts, event-recorder.ts).
 */
import type { Issue } from '../../shared/api/validate';
import type { CompiledCondition, CompiledStatus } from '../../shared/snapshot/conditions';
import { statusKey } from '../../shared/snapshot/conditions';
import type { Logger } from '../../shared/log/logger';
import { programmedCondition, type Programmed } from '../programmed';
import { ConditionEvents } from './condition-events';
import type { EventRecorder } from './event-recorder';
import { KubeError, MERGE_PATCH, type KubeClient } from './kube-rest';
import { parentsField, poolStatusPath, sluiceParentRef, type PoolParentStatus } from './pool-status';

/** A condition as stored in status. */
export interface StoredCondition extends CompiledCondition {
  lastTransitionTime: string;
}

/** What the writer needs to know about one object. */
export interface StatusTarget {
  kind: 'ModelRoute' | 'ModelServer' | 'ExternalModelProvider' | 'InferencePool';
  /** Needed for InferencePools, whose two API versions have different paths and status shapes. */
  apiVersion: string;
  namespace: string;
  name: string;
  /** For the Events' `regarding` reference. */
  uid?: string;
  /** Generation as stored now: the refused one, when Sluice refused the latest edit. */
  generation: number | undefined;
  /** InferencePools: the resourceVersion read, so the parent-list write cannot clobber a newer one. */
  resourceVersion?: string;
  /** Conditions stored now (for a pool: those of Sluice's parent entry). */
  existing: StoredCondition[];
  /** InferencePools: the other parents' status entries, written back unchanged. */
  otherParents?: PoolParentStatus[];
}

const PLURAL = { ModelRoute: 'modelroutes', ModelServer: 'modelservers', ExternalModelProvider: 'externalmodelproviders' } as const;

/** Patches status subresources. */
export class StatusWriter {
  /** What was last written per object, to skip no-op patches. */
  private readonly written = new Map<string, string>();

  /** Which condition changes become Events, when `events` is set. */
  private readonly changes = new ConditionEvents();

  /**
   * `namespace`: the operator's, which names Sluice's parent entry in InferencePool status.
   * `events`: where refusals and Programmed changes are recorded as Events (none when null).
   */
  constructor(private readonly rest: KubeClient, private readonly log: Logger, private readonly namespace: string, private readonly events: EventRecorder | null = null) {}

  /**
   * Brings every target's status up to date. `compiled` is the compile result's statuses,
   * `refused` the validation issues of objects the API server stored but Sluice refused, keyed
   * `Kind namespace/name`.
   */
  async write(targets: readonly StatusTarget[], compiled: Map<string, CompiledStatus>, refused: Map<string, Issue[]>, prog: Programmed, now = new Date()): Promise<void> {
    for (const t of targets) {
      const key = statusKey(t.kind, t.namespace, t.name);
      const st = compiled.get(key);
      const issues = refused.get(`${t.kind} ${t.namespace}/${t.name}`);
      const conditions: CompiledCondition[] = [];
      if (issues) {
        conditions.push({ type: 'Accepted', status: 'False', reason: 'Invalid', message: `generation ${t.generation ?? '?'} refused: ${issues.map((i) => `${i.path || '(object)'}: ${i.message}`).join('; ')}. ${st ? 'The last valid version keeps serving' : 'Not served until fixed'}`, ...(t.generation !== undefined ? { observedGeneration: t.generation } : {}) });
      }
      for (const c of st?.conditions ?? []) if (!(issues && c.type === 'Accepted')) conditions.push(c);
      // Programmed describes what data planes serve: the last valid version's generation.
      if (t.kind === 'ModelRoute' && st) conditions.push(programmedCondition(prog, st.conditions[0]?.observedGeneration ?? t.generation));
      if (conditions.length === 0) continue;
      if (this.events) {
        for (const e of this.changes.changes(key, t.existing, conditions)) {
          await this.events.record({ apiVersion: t.apiVersion, kind: t.kind, namespace: t.namespace, name: t.name, ...(t.uid ? { uid: t.uid } : {}) }, e.type, e.reason, e.action, e.note);
        }
      }
      const stored: StoredCondition[] = conditions.map((c) => {
        const prev = t.existing.find((e) => e.type === c.type);
        return { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString() };
      });
      const { path, body, fingerprintKey } = t.kind === 'InferencePool' ? this.poolWrite(t, stored) : this.ownWrite(t, stored, st);
      const fingerprint = JSON.stringify(body.status);
      // A pool's entry sits in a list other controllers write too: compare with what is stored,
      // so an entry someone else dropped is written again, and an unchanged one is not.
      if (t.kind === 'InferencePool' ? canonical(t.existing) === canonical(stored) : this.written.get(fingerprintKey) === fingerprint) continue;
      try {
        await this.rest.call('PATCH', path, body, MERGE_PATCH);
        this.written.set(fingerprintKey, fingerprint);
      } catch (err) {
        // A deleted object is not an error, and a 409 (a pool's parent list changed under us) is
        // retried from the newer copy on the next reconcile; anything else is logged and retried too.
        if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) this.log.warn({ object: key, err: (err as Error).message }, 'status patch failed');
      }
    }
  }

  private ownWrite(t: StatusTarget, stored: StoredCondition[], st: CompiledStatus | undefined): { path: string; body: { status: Record<string, unknown> }; fingerprintKey: string } {
    const status: Record<string, unknown> = { conditions: stored };
    if (t.kind === 'ModelServer' && st) {
      status.readyEndpoints = st.readyEndpoints ?? 0;
      status.totalEndpoints = st.totalEndpoints ?? 0;
    }
    if (t.kind === 'ExternalModelProvider' && t.generation !== undefined) status.observedGeneration = t.generation;
    const plural = PLURAL[t.kind as keyof typeof PLURAL];
    return { path: `/apis/networking.serving.volcano.sh/v1alpha1/namespaces/${t.namespace}/${plural}/${t.name}/status`, body: { status }, fingerprintKey: statusKey(t.kind, t.namespace, t.name) };
  }

  private poolWrite(t: StatusTarget, stored: StoredCondition[]): { path: string; body: { metadata?: { resourceVersion: string }; status: Record<string, unknown> }; fingerprintKey: string } {
    const mine: PoolParentStatus = { parentRef: sluiceParentRef(t.apiVersion, this.namespace), conditions: stored };
    const status = { [parentsField(t.apiVersion)]: [...(t.otherParents ?? []), mine] };
    return {
      path: poolStatusPath(t.apiVersion, t.namespace, t.name),
      body: { ...(t.resourceVersion ? { metadata: { resourceVersion: t.resourceVersion } } : {}), status },
      fingerprintKey: `${t.apiVersion} ${statusKey(t.kind, t.namespace, t.name)}`,
    };
  }
}

/** JSON with object keys sorted, so stored and computed conditions compare whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => (val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : 1))) : val));
}
