/**
 * max-score-picker (endpoint picker), parameter maxNumOfEndpoints (default 1).
 *
 * Orders candidates by total score, highest first; equal scores are broken at random so equal
 * pods share load. Returns at most maxNumOfEndpoints (the first serves; the framework appends the
 * remaining candidates by score as further failover).
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { PickerPlugin, Random } from '../../types';

/** Type name. */
export const MAX_SCORE_PICKER = 'max-score-picker';

/** Picks the best scores. */
export class MaxScorePicker implements PickerPlugin {
  readonly type = MAX_SCORE_PICKER;
  private tiebreak = new Float64Array(16);

  constructor(readonly name: string, readonly maxNumOfEndpoints: number, private readonly random: Random) {}

  pick(endpoints: readonly Endpoint[], keep: Uint8Array, total: Float64Array, order: Int32Array): number {
    if (this.tiebreak.length < endpoints.length) this.tiebreak = new Float64Array(endpoints.length * 2);
    const limit = Math.min(this.maxNumOfEndpoints, order.length);
    let n = 0;
    for (let i = 0; i < endpoints.length; i++) {
      if (!keep[i]) continue;
      this.tiebreak[i] = this.random();
      // Insertion into the top-`limit` list: O(endpoints × limit), limit is small.
      let pos = n < limit ? n : limit;
      while (pos > 0 && this.better(i, order[pos - 1]!, total)) pos--;
      if (pos >= limit) continue;
      for (let j = Math.min(n, limit - 1); j > pos; j--) order[j] = order[j - 1]!;
      order[pos] = i;
      if (n < limit) n++;
    }
    return n;
  }

  private better(a: number, b: number, total: Float64Array): boolean {
    return total[a]! > total[b]! || (total[a] === total[b] && this.tiebreak[a]! > this.tiebreak[b]!);
  }
}
