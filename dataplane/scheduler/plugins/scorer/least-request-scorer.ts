/**
 * least-request (Kthena) as a scorer.
 *
 *   load_i  = max(running_i + waiting_i, inFlight_i)
 *   score_i = 1 - load_i / max_j(load_j)          (1 for every candidate when all loads are 0)
 *
 * running and waiting come from the engine's metrics (up to one scrape old, and they count every
 * router's traffic); inFlight is this data plane's own count, current to the request. Taking the
 * larger of the two keeps a burst that the last scrape has not seen from landing on one pod.
 * A stale endpoint is scored on its in-flight count alone.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const LEAST_REQUEST = 'least-request';

/** Load as the least-request plugins see it. */
export function requestLoad(ep: Endpoint): number {
  const m = ep.metrics;
  const engine = m.stale ? 0 : m.running + m.waiting;
  return engine > ep.inFlight ? engine : ep.inFlight;
}

/** Scores lighter-loaded endpoints higher. */
export class LeastRequestScorer implements ScorerPlugin {
  readonly type = LEAST_REQUEST;
  constructor(readonly name: string) {}

  score(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    let max = 0;
    for (let i = 0; i < endpoints.length; i++) {
      if (keep[i]) {
        const load = requestLoad(endpoints[i]!);
        out[i] = load;
        if (load > max) max = load;
      }
    }
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) out[i] = max === 0 ? 1 : 1 - out[i]! / max;
  }
}
