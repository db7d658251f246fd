/**
 * Request queueing settings from annotations, read the same way on InferencePools (seed 003, the
 * Gateway API Inference Extension's names) and on ModelServers:
 *
 *     inference.networking.x-k8s.io/queueing: "enabled"                       # default disabled
 *     inference-epp-env.networking.x-k8s.io/total-queue-capacity: "104857600" # bytes, default 100 MiB
 *     inference-epp-env.networking.x-k8s.io/queue-ttl: "30s"                  # default 30s
 *     sluice.dev/queue-max-requests: "10000"                                  # default 10000
 *     sluice.dev/max-in-flight-per-endpoint: "8"                              # default: no cap
 *
 * Every bad value is reported with its annotation path; a tuning annotation without queueing
 * enabled is reported too, since it is almost always a forgotten switch.
 */
import { type Issue } from '../api/validate';
import { parseDuration } from '../util/duration';
import { fieldPath } from './dialect-common';
import { QUEUE_DEFAULTS, type QueueConfig } from './router-policy';

/** The queue annotation keys. */
export const QUEUE_ANNOTATIONS = {
  queueing: 'inference.networking.x-k8s.io/queueing',
  totalQueueCapacity: 'inference-epp-env.networking.x-k8s.io/total-queue-capacity',
  queueTtl: 'inference-epp-env.networking.x-k8s.io/queue-ttl',
  maxRequests: 'sluice.dev/queue-max-requests',
  maxInFlightPerEndpoint: 'sluice.dev/max-in-flight-per-endpoint',
} as const;

/** `metadata.annotations["<key>"]`. */
export const annotationPath = (key: string) => fieldPath(fieldPath('metadata', 'annotations'), key);

/** A positive whole number annotation (Go int64 syntax, optional +), or an issue and the default. */
export function positiveIntAnnotation(annotations: Record<string, string>, key: string, def: number, issues: Issue[]): number {
  const raw = annotations[key];
  if (raw === undefined) return def;
  const text = raw.trim();
  const n = /^\+?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    issues.push({ path: annotationPath(key), message: `${key} must be a positive whole number such as "${def}" (got ${JSON.stringify(raw)})` });
    return def;
  }
  return n;
}

/** The queue TTL: a Go duration, positive (a signed duration parses, but a request cannot wait a negative time). */
function queueTtl(raw: string | undefined, issues: Issue[]): number {
  if (raw === undefined) return QUEUE_DEFAULTS.ttlMs;
  const text = raw.trim();
  const negative = text.startsWith('-');
  const ms = parseDuration(text.replace(/^[-+]/, ''));
  const key = QUEUE_ANNOTATIONS.queueTtl;
  if (ms === null) {
    issues.push({ path: annotationPath(key), message: `${key} must be a duration such as 30s, 1m30s or 500ms (units ns, us, ms, s, m, h; got ${JSON.stringify(raw)})` });
  } else if (negative && ms > 0) {
    issues.push({ path: annotationPath(key), message: `${key} is negative (${JSON.stringify(raw)}); a request cannot wait less than no time, use a positive duration such as 30s` });
  } else if (ms === 0) {
    issues.push({ path: annotationPath(key), message: `${key} is zero, which would drop every queued request at once; use a positive duration such as 30s, or disable queueing` });
  } else {
    return Math.max(1, Math.round(ms));
  }
  return QUEUE_DEFAULTS.ttlMs;
}

/** The queue settings, or null when queueing is not enabled. Problems go to `issues`. */
export function parseQueueAnnotations(annotations: Record<string, string>, issues: Issue[]): QueueConfig | null {
  const raw = annotations[QUEUE_ANNOTATIONS.queueing];
  let enabled = false;
  if (raw !== undefined) {
    const v = raw.trim();
    if (v === 'enabled') enabled = true;
    else if (v !== 'disabled') issues.push({ path: annotationPath(QUEUE_ANNOTATIONS.queueing), message: `${QUEUE_ANNOTATIONS.queueing} must be one of enabled, disabled (got ${JSON.stringify(raw)})` });
  }
  const maxBytes = positiveIntAnnotation(annotations, QUEUE_ANNOTATIONS.totalQueueCapacity, QUEUE_DEFAULTS.maxBytes, issues);
  const ttlMs = queueTtl(annotations[QUEUE_ANNOTATIONS.queueTtl], issues);
  const maxRequests = positiveIntAnnotation(annotations, QUEUE_ANNOTATIONS.maxRequests, QUEUE_DEFAULTS.maxRequests, issues);
  const cap = annotations[QUEUE_ANNOTATIONS.maxInFlightPerEndpoint] !== undefined
    ? positiveIntAnnotation(annotations, QUEUE_ANNOTATIONS.maxInFlightPerEndpoint, 8, issues) : undefined;
  if (!enabled) {
    const tuning = [QUEUE_ANNOTATIONS.totalQueueCapacity, QUEUE_ANNOTATIONS.queueTtl, QUEUE_ANNOTATIONS.maxRequests, QUEUE_ANNOTATIONS.maxInFlightPerEndpoint];
    for (const key of tuning.filter((k) => annotations[k] !== undefined)) {
      issues.push({ path: annotationPath(key), message: `${key} only applies with ${QUEUE_ANNOTATIONS.queueing}: enabled; set that or remove this annotation` });
    }
    return null;
  }
  const queue: QueueConfig = { maxBytes, maxRequests, ttlMs };
  if (cap !== undefined) queue.maxInFlightPerEndpoint = cap;
  return queue;
}

/** One line for a status condition. */
export function describeQueue(q: QueueConfig): string {
  const cap = q.maxInFlightPerEndpoint !== undefined ? `at most ${q.maxInFlightPerEndpoint} in flight per endpoint` : 'released on engine saturation metrics';
  return `queueing enabled: up to ${q.maxRequests} requests and ${q.maxBytes} bytes, TTL ${q.ttlMs}ms, ${cap}`;
}
