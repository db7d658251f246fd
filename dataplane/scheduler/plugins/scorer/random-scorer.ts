/**
 * random (Kthena): score_i = u_i, u uniform in [0,1). Spreads load with no information; the
 * baseline of the scheduling benchmark.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { Random, ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const RANDOM_SCORER = 'random';

/** Scores at random. */
export class RandomScorer implements ScorerPlugin {
  readonly type = RANDOM_SCORER;
  constructor(readonly name: string, private readonly random: Random) {}

  score(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) out[i] = this.random();
  }
}
