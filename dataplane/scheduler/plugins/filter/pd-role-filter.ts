/**
 * prefill-filter and decode-filter (endpoint picker), no parameters: the role filters of a
 * pd-profile-handler configuration.
 *
 *   prefill-filter: keep_i = role_i = prefill
 *   decode-filter:  keep_i = role_i ≠ prefill   (decode pods, and pods without a PD role)
 *
 * A pod's role comes from its ModelServer's pdGroup labels. Sluice already hands the prefill and
 * the decode pods of a PD server to their profiles separately, so on such a server these filters
 * confirm rather than narrow; they matter when a configuration is shared with other servers.
 */
import type { Endpoint } from '../../../proxy/endpoint-registry';
import type { FilterPlugin, SchedulingRequest } from '../../types';

/** Type names. */
export const PREFILL_FILTER = 'prefill-filter';
export const DECODE_FILTER = 'decode-filter';

/** Keeps the pods of one PD role. */
export class PdRoleFilter implements FilterPlugin {
  readonly type: string;
  constructor(readonly name: string, private readonly prefill: boolean) {
    this.type = prefill ? PREFILL_FILTER : DECODE_FILTER;
  }

  filter(_req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array): void {
    for (let i = 0; i < endpoints.length; i++) {
      if ((endpoints[i]!.role === 'prefill') !== this.prefill) keep[i] = 0;
    }
  }
}
