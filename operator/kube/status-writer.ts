/**
 * Writes status conditions back to ModelRoutes and ModelServers, so `kubectl describe` alone tells
 * a user why a route works or not: the compiled conditions (Accepted, ResolvedRefs, Ready,
 * SchedulerConfigured) plus, for routes, Programmed ("applied on N/M data-plane replicas").
 * lastTransitionTime changes only when a condition's status does; an object is patched only when
 * what it would show changed, so steady state writes nothing.
 */
import type { Issue } from '../../shared/api/validate';
import type { CompiledCondition, CompiledStatus } from '../../shared/snapshot/conditions';
import { statusKey } from '../../shared/snapshot/conditions';
import type { Logger } from '../../shared/log/logger';
import { KubeError, MERGE_PATCH, type KubeRest } from './kube-rest';

/** A condition as stored in status. */
interface StoredCondition extends CompiledCondition {
  lastTransitionTime: string;
}

/** What the writer needs to know about one object. */
export interface StatusTarget {
  kind: 'ModelRoute' | 'ModelServer';
  namespace: string;
  name: string;
  generation: number | undefined;
  existing: StoredCondition[];
}

/** Data-plane push progress for the Programmed condition. */
export interface Programmed {
  applied: number;
  total: number;
  version: number;
  selector: string;
}

const PLURAL = { ModelRoute: 'modelroutes', ModelServer: 'modelservers' } as const;

function programmed(p: Programmed, gen: number | undefined): CompiledCondition {
  const c: CompiledCondition = p.total === 0
    ? { type: 'Programmed', status: 'False', reason: 'NoDataPlane', message: `no ready data-plane pod matches ${p.selector}; the route is compiled (snapshot ${p.version}) but nothing serves it` }
    : p.applied === p.total
      ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: `applied on ${p.applied}/${p.total} data-plane replicas (snapshot ${p.version})` }
      : { type: 'Programmed', status: 'False', reason: 'Pending', message: `applied on ${p.applied}/${p.total} data-plane replicas (snapshot ${p.version}); the rest are retried` };
  if (gen !== undefined) c.observedGeneration = gen;
  return c;
}

/** Patches status subresources. */
export class StatusWriter {
  /** What was last written per object, to skip no-op patches. */
  private readonly written = new Map<string, string>();

  constructor(private readonly rest: KubeRest, private readonly log: Logger) {}

  /**
   * Brings every target's status up to date. `compiled` is the compile result's statuses,
   * `refused` the validation issues of objects the API server stored but Sluice refused.
   */
  async write(targets: readonly StatusTarget[], compiled: Map<string, CompiledStatus>, refused: Map<string, Issue[]>, prog: Programmed, now = new Date()): Promise<void> {
    for (const t of targets) {
      const key = statusKey(t.kind, t.namespace, t.name);
      const st = compiled.get(key);
      const issues = refused.get(`${t.kind} ${t.namespace}/${t.name}`);
      const conditions: CompiledCondition[] = [];
      if (issues) {
        conditions.push({ type: 'Accepted', status: 'False', reason: 'Invalid', message: `${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}. ${st ? 'The last valid version keeps serving' : 'Not served until fixed'}`, ...(t.generation !== undefined ? { observedGeneration: t.generation } : {}) });
      }
      for (const c of st?.conditions ?? []) if (!(issues && c.type === 'Accepted')) conditions.push(c);
      if (t.kind === 'ModelRoute' && st) conditions.push(programmed(prog, t.generation));
      const stored: StoredCondition[] = conditions.map((c) => {
        const prev = t.existing.find((e) => e.type === c.type);
        return { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString() };
      });
      const status: Record<string, unknown> = { conditions: stored };
      if (t.kind === 'ModelServer' && st) {
        status.readyEndpoints = st.readyEndpoints ?? 0;
        status.totalEndpoints = st.totalEndpoints ?? 0;
      }
      const fingerprint = JSON.stringify(status);
      if (this.written.get(key) === fingerprint) continue;
      try {
        await this.rest.call('PATCH', `/apis/networking.serving.volcano.sh/v1alpha1/namespaces/${t.namespace}/${PLURAL[t.kind]}/${t.name}/status`, { status }, MERGE_PATCH);
        this.written.set(key, fingerprint);
      } catch (err) {
        // A deleted object is not an error; anything else is retried on the next reconcile.
        if (!(err instanceof KubeError && err.status === 404)) this.log.warn({ object: key, err: (err as Error).message }, 'status patch failed');
      }
    }
  }
}
