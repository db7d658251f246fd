/**
 * queue-scorer (endpoint picker).
 *
 *   score_i = (maxQ - q_i) / (maxQ - minQ)     over candidates; 1 for all when maxQ = minQ
 *
 * q is the engine's waiting queue. Stale endpoints score 0: an unknown queue is not a short one.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const QUEUE_SCORER = 'queue-scorer';

/** Scores shorter engine queues higher. */
export class QueueScorer implements ScorerPlugin {
  readonly type = QUEUE_SCORER;
  constructor(readonly name: string) {}

  score(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < endpoints.length; i++) {
      const m = endpoints[i]!.metrics;
      if (!keep[i] || m.stale) continue;
      if (m.waiting < min) min = m.waiting;
      if (m.waiting > max) max = m.waiting;
    }
    for (let i = 0; i < endpoints.length; i++) {
      if (!keep[i]) continue;
      const m = endpoints[i]!.metrics;
      out[i] = m.stale ? 0 : max === min ? 1 : (max - m.waiting) / (max - min);
    }
  }
}
