/**
 * least-latency (Kthena), parameter TTFTTPOTWeightFactor f (default 0.5).
 *
 *   ttftScore_i = (maxTTFT - ttft_i) / (maxTTFT - minTTFT)   (1 for all when equal)
 *   tpotScore_i = (maxTPOT - tpot_i) / (maxTPOT - minTPOT)
 *   score_i     = f · ttftScore_i + (1 - f) · tpotScore_i
 *
 * ttft and tpot are means over the last scrape interval. An endpoint with no sample yet (it has
 * served nothing recently) takes the candidates' minimum, i.e. it is treated as fast: idle pods
 * should attract work. Stale endpoints score 0.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { ScorerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const LEAST_LATENCY = 'least-latency';

function minMax(endpoints: readonly Endpoint[], keep: Uint8Array, pick: (ep: Endpoint) => number | null): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < endpoints.length; i++) {
    const ep = endpoints[i]!;
    if (!keep[i] || ep.metrics.stale) continue;
    const v = pick(ep);
    if (v === null) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

const ttft = (ep: Endpoint) => ep.metrics.ttftSeconds;
const tpot = (ep: Endpoint) => ep.metrics.tpotSeconds;

function part(v: number | null, min: number, max: number): number {
  if (v === null || !(max > min)) return 1;
  return (max - v) / (max - min);
}

/** Scores endpoints with lower recent latency higher. */
export class LeastLatencyScorer implements ScorerPlugin {
  readonly type = LEAST_LATENCY;
  constructor(readonly name: string, private readonly factor: number) {}

  score(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void {
    const [t0, t1] = minMax(endpoints, keep, ttft);
    const [p0, p1] = minMax(endpoints, keep, tpot);
    for (let i = 0; i < endpoints.length; i++) {
      if (!keep[i]) continue;
      const ep = endpoints[i]!;
      out[i] = ep.metrics.stale ? 0 : this.factor * part(ttft(ep), t0, t1) + (1 - this.factor) * part(tpot(ep), p0, p1);
    }
  }
}
