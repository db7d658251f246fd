/**
 * Kubernetes Events (events.k8s.io/v1) on the objects Sluice refuses or (re)programs, so
 * `kubectl describe modelroute x` and `kubectl get events` show what happened and when, beside the
 * status conditions that show what holds now.
 *
 * Two guards keep a flapping object from flooding the API server, as client-go's recorder does:
 *  - the same event (object, type, reason, note) again within `dedupWindowMs` does not make a new
 *    Event: the first one's `series.count` and `series.lastObservedTime` are patched instead;
 *  - each object has a token bucket (`burst` events, refilled at one per `refillMs`); events
 *    beyond it are dropped, counted, and logged once per object until it may send again.
 * Failures to write an Event are logged and never stop a reconcile.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log/logger';
import { MERGE_PATCH, type KubeClient } from './kube-rest';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** Options of EventRecorder; defaults in DEFAULT_EVENT_LIMITS. */
export interface EventLimits {
  /** Events an object may send at once. */
  burst: number;
  /** One more token per this many ms. */
  refillMs: number;
  /** An identical event within this window adds to the first one's series. */
  dedupWindowMs: number;
}

/** 5 at once, then one a minute per object; identical events within 10 minutes are counted. */
export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({ burst: 5, refillMs: 60_000, dedupWindowMs: 10 * 60_000 });

/** The `reportingController` of Sluice's Events. */
export const REPORTING_CONTROLLER = 'sluice.dev/operator';

/** Event notes are capped at 1 kB by the API server. */
const MAX_NOTE = 1024;

interface Series {
  name: string;
  count: number;
  firstMs: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
  dropped: number;
}

/** `YYYY-MM-DDTHH:MM:SS.ssssssZ`: MicroTime, as eventTime and series.lastObservedTime require. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Writes Events with deduplication and a per-object rate limit. */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rest: KubeClient,
    private readonly log: Logger,
    /** This replica (the pod name in a cluster): the Events' reportingInstance. */
    private readonly instance: string,
    private readonly limits: EventLimits = DEFAULT_EVENT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one event; resolves once it is written, dropped or failed (never rejects). */
  async record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    const now = this.now();
    const objectKey = `${subject.kind} ${subject.namespace}/${subject.name}`;
    const text = note.length > MAX_NOTE ? `${note.slice(0, MAX_NOTE - 3)}...` : note;
    if (!this.take(objectKey, now)) return;
    const key = `${objectKey}\n${type}\n${reason}\n${text}`;
    const prev = this.series.get(key);
    const base = `/apis/events.k8s.io/v1/namespaces/${subject.namespace}/events`;
    try {
      if (prev && now - prev.firstMs < this.limits.dedupWindowMs) {
        prev.count += 1;
        await this.rest.call('PATCH', `${base}/${prev.name}`, { series: { count: prev.count, lastObservedTime: microTime(now) } }, MERGE_PATCH);
        return;
      }
      // Named as client-go names them (<object>.<hex time>): generateName may not end in '.'.
      const name = `${subject.name.slice(0, 200)}.${now.toString(16)}${randomBytes(3).toString('hex')}`;
      await this.rest.call('POST', base, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: subject.namespace },
        eventTime: microTime(now),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: this.instance,
        action,
        reason,
        type,
        note: text,
        regarding: { apiVersion: subject.apiVersion, kind: subject.kind, namespace: subject.namespace, name: subject.name, ...(subject.uid ? { uid: subject.uid } : {}) },
      });
      this.series.set(key, { name, count: 1, firstMs: now });
      this.forgetOld(now);
    } catch (err) {
      // A series whose Event expired (the API server keeps them an hour) starts again next time.
      this.series.delete(key);
      this.log.warn({ object: objectKey, reason, err: (err as Error).message }, 'event not recorded');
    }
  }

  /** Takes a token from the object's bucket; false (logged once per dry spell) when empty. */
  private take(objectKey: string, now: number): boolean {
    const b = this.buckets.get(objectKey) ?? { tokens: this.limits.burst, atMs: now, dropped: 0 };
    b.tokens = Math.min(this.limits.burst, b.tokens + (now - b.atMs) / this.limits.refillMs);
    b.atMs = now;
    this.buckets.set(objectKey, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.dropped) this.log.info({ object: objectKey, dropped: b.dropped }, 'events resumed after rate limiting');
      b.dropped = 0;
      return true;
    }
    if (b.dropped++ === 0) this.log.warn({ object: objectKey, burst: this.limits.burst, perMs: this.limits.refillMs }, 'events rate-limited for this object');
    return false;
  }

  /** Drops series past their window, so memory follows the objects that still change. */
  private forgetOld(now: number): void {
    for (const [k, s] of this.series) if (now - s.firstMs >= this.limits.dedupWindowMs) this.series.delete(k);
  }
}
