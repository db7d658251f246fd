/**
 * pd-profile-handler (endpoint picker): prefill/decode disaggregation. Parameters
 * `prefillProfile` (default `prefill`) and `decodeProfile` (default `decode`) name the two
 * profiles. The decode profile is the primary one (it picks the pod that answers the client);
 * for a PD ModelServer the data plane also runs the prefill profile over the prefill pods and
 * pairs each chosen decode pod with the best prefill pods of its group (dataplane/proxy/pd-forwarder.ts).
 */
import type { Profile, ProfileHandlerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const PD_PROFILE_HANDLER = 'pd-profile-handler';

/** Chooses the decode profile as primary, and each role's profile on request. */
export class PdProfileHandler implements ProfileHandlerPlugin {
  readonly type = PD_PROFILE_HANDLER;
  constructor(readonly name: string, private readonly prefillProfile: string, private readonly decodeProfile: string) {}

  primary(req: SchedulingRequest, profiles: readonly Profile[]): Profile {
    return this.forRole('decode', req, profiles);
  }

  forRole(role: 'prefill' | 'decode', _req: SchedulingRequest, profiles: readonly Profile[]): Profile {
    const want = role === 'prefill' ? this.prefillProfile : this.decodeProfile;
    // The validator guarantees both profiles exist; the first profile is a safe fallback.
    return profiles.find((p) => p.name === want) ?? profiles[0]!;
  }
}
