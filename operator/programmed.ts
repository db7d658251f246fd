/**
 * The Programmed condition of a ModelRoute: whether the data planes serve the snapshot holding
 * it, counting only replicas that reported serving the snapshot's hash (a push answer or a
 * served-hash check), and whether the durable copy holds it. Both sources use it: Kubernetes
 * status and the directory source's status file.
 */
import type { CompiledCondition } from '../shared/snapshot/conditions';
import type { DurableState } from './publisher';

/** Data-plane progress for the Programmed condition. */
export interface Programmed {
  /** Replicas that reported serving the snapshot's hash. */
  applied: number;
  total: number;
  version: number;
  /** Why there may be no data plane at all, e.g. `no data-plane pod matches app=x`. */
  noTargets: string;
  /** The durable copy; its error turns Programmed False. */
  durable?: DurableState | null;
}

/** The Programmed condition for `p`, with `gen` as observedGeneration when known. */
export function programmedCondition(p: Programmed, gen?: number): CompiledCondition {
  const counts = `applied on ${p.applied}/${p.total} data-plane replicas (snapshot ${p.version})`;
  const c: CompiledCondition = p.total === 0
    ? { type: 'Programmed', status: 'False', reason: 'NoDataPlane', message: `${p.noTargets}; the route is compiled (snapshot ${p.version}) but nothing serves it` }
    : p.durable?.error
      ? { type: 'Programmed', status: 'False', reason: 'DurableCopyFailed', message: `${counts}, but ${p.durable.error}. A data plane that restarts while the operator is away starts from ${p.durable.version !== null ? `the older copy (snapshot ${p.durable.version})` : 'no copy at all'}` }
      : p.applied === p.total
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: counts }
        : { type: 'Programmed', status: 'False', reason: 'Pending', message: `${counts}; the others are pushed again until they report serving it` };
  if (gen !== undefined) c.observedGeneration = gen;
  return c;
}
