/**
 * least-request (Kthena) as a filter, parameter maxWaitingRequests (default 10).
 *
 *   keep_i = waiting_i <= maxWaitingRequests
 *
 * waiting is the engine's scraped queue length plus nothing else: the filter removes pods whose
 * queue is already long. Stale endpoints are not judged (their queue is unknown) and stay.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { FilterPlugin, SchedulingRequest } from '../../types';

/** Drops endpoints whose engine queue is longer than the limit. */
export class LeastRequestFilter implements FilterPlugin {
  readonly type = 'least-request';
  constructor(readonly name: string, private readonly maxWaitingRequests: number) {}

  filter(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array): void {
    for (let i = 0; i < endpoints.length; i++) {
      const m = endpoints[i]!.metrics;
      if (keep[i] && !m.stale && m.waiting > this.maxWaitingRequests) keep[i] = 0;
    }
  }
}
