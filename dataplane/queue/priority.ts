/**
 * The priority band of a request for the fairness queue: higher bands are released first.
 *
 *   band = clamp(int(header), −100, 100)   when `fairness.priorityHeader` is set and the request
 *                                           carries it as an integer
 *        = fairness.tierPriorities[tier]   else, when the identity's tier has a band
 *        = 0                               else
 *
 * The header is trusted as sent (put a gateway that strips or sets it in front of Sluice when
 * clients are not trusted); a value that is not an integer is ignored, not an error.
 */
import type { FairnessConfig, Identity } from '../../shared/config/router-policy';

/** Lowest band a header can ask for. */
export const PRIORITY_MIN = -100;
/** Highest band a header can ask for. */
export const PRIORITY_MAX = 100;

const INTEGER = /^[+-]?\d+$/;

/** Request headers as Node gives them (lower-case names). */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The request's band (see the file comment for the rule). */
export function priorityOf(headers: RequestHeaders, identity: Identity, fairness: Pick<FairnessConfig, 'priorityHeader' | 'tierPriorities'>): number {
  if (fairness.priorityHeader !== undefined) {
    const raw = headers[fairness.priorityHeader];
    // A repeated header arrives as an array for a few names only; the first one counts.
    const text = (typeof raw === 'string' ? raw : raw?.[0])?.trim();
    if (text !== undefined && INTEGER.test(text)) return Math.min(PRIORITY_MAX, Math.max(PRIORITY_MIN, Number(text))) + 0; // + 0 turns "-0" into 0
  }
  if (identity.tier !== null) {
    const band = fairness.tierPriorities[identity.tier];
    // Own keys only: a tier named "constructor" must not read Object.prototype.
    if (band !== undefined && Object.prototype.hasOwnProperty.call(fairness.tierPriorities, identity.tier)) return band;
  }
  return 0;
}
