/**
 * The standard "may the queue release a request to this server now?" rule, for the `hasCapacity`
 * callback of a FairQueue.
 *
 * An endpoint is saturated when its last fresh scrape shows more than 5 waiting requests or a KV
 * cache more than 80 % full: the thresholds of the Gateway API Inference Extension's saturation
 * detector (QueueDepthThreshold 5, KVCacheUtilThreshold 0.8, compared the same way: above, not
 * at). Unlike that detector, stale metrics do not make an endpoint saturated: a server whose
 * metrics endpoint is broken would otherwise never drain its queue; the in-flight cap still holds.
 *
 * Free slots of an endpoint that is not saturated:
 *   - with `maxInFlightPerEndpoint` set: max(0, maxInFlightPerEndpoint − inFlight);
 *   - without it: 1. Metrics alone decide, and they are up to one scrape interval old (default
 *     1 s), so each capacity event lets one more request per endpoint through and a burst between
 *     two scrapes can pass; bounding that is what `maxInFlightPerEndpoint` is for.
 * The server has capacity when Σ free slots > pending (released by the queue, not yet counted in
 * any endpoint's in-flight). Counting slots rather than endpoints lets one pump fill every free
 * slot of a capped server instead of one per endpoint.
 */
import type { QueueConfig } from '../../shared/config/router-policy';

/** Waiting requests above which a freshly scraped endpoint is saturated. */
export const SATURATION_QUEUE_DEPTH = 5;
/** KV cache utilisation above which a freshly scraped endpoint is saturated. */
export const SATURATION_KV_USAGE = 0.8;

/** What the rule reads of an endpoint; `Endpoint` of dataplane/proxy/endpoint-registry fits. */
export interface CapacityEndpoint {
  readonly inFlight: number;
  readonly metrics: { readonly waiting: number; readonly kvUsage: number; readonly stale: boolean };
}

/** True when the endpoint's last fresh scrape says it is saturated. */
export function isSaturated(ep: CapacityEndpoint): boolean {
  const m = ep.metrics;
  return !m.stale && (m.waiting > SATURATION_QUEUE_DEPTH || m.kvUsage > SATURATION_KV_USAGE);
}

/** Requests the endpoint may take now, per the rule above. */
export function freeSlots(ep: CapacityEndpoint, maxInFlightPerEndpoint: number | undefined): number {
  if (isSaturated(ep)) return 0;
  if (maxInFlightPerEndpoint === undefined) return 1;
  return Math.max(0, maxInFlightPerEndpoint - ep.inFlight);
}

/**
 * True when the server's endpoints have more free slots than `pending` (requests released but not
 * yet counted in-flight). No endpoints means no capacity. Allocation-free, stops at the first
 * slot beyond `pending`.
 */
export function serverHasCapacity(endpoints: readonly CapacityEndpoint[], queueConfig: Pick<QueueConfig, 'maxInFlightPerEndpoint'>, pending: number): boolean {
  const cap = queueConfig.maxInFlightPerEndpoint;
  let slots = 0;
  for (let i = 0; i < endpoints.length; i++) {
    slots += freeSlots(endpoints[i]!, cap);
    if (slots > pending) return true;
  }
  return false;
}
