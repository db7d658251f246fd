/**
 * weighted-random-picker (endpoint picker), parameter maxNumOfEndpoints (default 1).
 *
 *   P(pick i) = total_i / Σ_j total_j        (uniform when every total is 0)
 *
 * drawn without replacement for each further pick. Spreads load in proportion to score instead of
 * sending everything to the single best endpoint.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { PickerPlugin, Random } from '../../types';

/** Type name. */
export const WEIGHTED_RANDOM_PICKER = 'weighted-random-picker';

/** Picks at random, weighted by score. */
export class WeightedRandomPicker implements PickerPlugin {
  readonly type = WEIGHTED_RANDOM_PICKER;
  private taken = new Uint8Array(16);

  constructor(readonly name: string, readonly maxNumOfEndpoints: number, private readonly random: Random) {}

  pick(endpoints: readonly Endpoint[], keep: Uint8Array, total: Float64Array, order: Int32Array): number {
    if (this.taken.length < endpoints.length) this.taken = new Uint8Array(endpoints.length * 2);
    this.taken.fill(0);
    const limit = Math.min(this.maxNumOfEndpoints, order.length);
    let n = 0;
    while (n < limit) {
      let sum = 0;
      let count = 0;
      for (let i = 0; i < endpoints.length; i++) {
        if (keep[i] && !this.taken[i]) {
          sum += total[i]!;
          count++;
        }
      }
      if (count === 0) break;
      let chosen = -1;
      if (sum > 0) {
        let r = this.random() * sum;
        for (let i = 0; i < endpoints.length && chosen < 0; i++) {
          if (!keep[i] || this.taken[i]) continue;
          r -= total[i]!;
          if (r < 0) chosen = i;
        }
      }
      if (chosen < 0) {
        // All remaining scores are 0 (or rounding left r ≥ 0): choose uniformly among them.
        let k = Math.floor(this.random() * count);
        for (let i = 0; i < endpoints.length; i++) {
          if (!keep[i] || this.taken[i]) continue;
          if (k-- === 0) {
            chosen = i;
            break;
          }
        }
      }
      this.taken[chosen] = 1;
      order[n++] = chosen;
    }
    return n;
  }
}
