/**
 * single-profile-handler (endpoint picker): every request runs the first (and, for this handler,
 * only) profile. No parameters.
 */
import type { Profile, ProfileHandlerPlugin, SchedulingRequest } from '../../types';

/** Type name. */
export const SINGLE_PROFILE_HANDLER = 'single-profile-handler';

/** Runs the primary profile. */
export class SingleProfileHandler implements ProfileHandlerPlugin {
  readonly type = SINGLE_PROFILE_HANDLER;
  constructor(readonly name: string) {}

  primary(_req: SchedulingRequest, profiles: readonly Profile[]): Profile {
    return profiles[0]!;
  }
}
