/**
 * random-picker (endpoint picker), parameter maxNumOfEndpoints (default 1): picks candidates
 * uniformly at random, ignoring scores (a partial Fisher–Yates shuffle of the candidates).
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { PickerPlugin, Random } from '../../types';

/** Type name. */
export const RANDOM_PICKER = 'random-picker';

/** Picks at random. */
export class RandomPicker implements PickerPlugin {
  readonly type = RANDOM_PICKER;
  private pool = new Int32Array(16);

  constructor(readonly name: string, readonly maxNumOfEndpoints: number, private readonly random: Random) {}

  pick(endpoints: readonly Endpoint[], keep: Uint8Array, _total: Float64Array, order: Int32Array): number {
    if (this.pool.length < endpoints.length) this.pool = new Int32Array(endpoints.length * 2);
    let m = 0;
    for (let i = 0; i < endpoints.length; i++) if (keep[i]) this.pool[m++] = i;
    const n = Math.min(m, this.maxNumOfEndpoints, order.length);
    for (let k = 0; k < n; k++) {
      const j = k + Math.floor(this.random() * (m - k));
      const t = this.pool[k]!;
      this.pool[k] = this.pool[j]!;
      this.pool[j] = t;
      order[k] = this.pool[k]!;
    }
    return n;
  }
}
