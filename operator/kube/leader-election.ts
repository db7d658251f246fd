/**
 * One active operator replica through a coordination.k8s.io Lease (`sluice-operator` in the
 * operator's namespace), with client-go's leader-election semantics:
 *
 * - Expiry is judged on the candidate's own clock. A candidate notes the local (monotonic) time
 *   at which it last saw the Lease record change (its resourceVersion); it takes the Lease over
 *   only after `leaseDuration` has passed since then with no change. The record's `renewTime` is
 *   written for humans and never compared with the local clock, so a candidate whose wall clock
 *   runs ahead (or a holder whose runs behind) cannot steal a Lease that is being renewed.
 * - The leader renews every `retryPeriod` and gives up leadership when it has not renewed for
 *   `renewDeadline`, which is shorter than `leaseDuration`: it stops acting before any candidate
 *   (which counts from when it saw the leader's last renewal, no earlier) may take over.
 * - Writes carry the Lease's resourceVersion, so two replicas racing for it cannot both win. On a
 *   clean shutdown the holder releases the Lease at once.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../shared/log/logger';
import { KubeError, type KubeClient } from './kube-rest';

/** Lease timing, in seconds: retryPeriod < renewDeadline < leaseDuration. */
export interface LeaseTiming {
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/** client-go's default proportions (15 s / 10 s / 2 s) scaled to `leaseDurationSeconds`. */
export function leaseTimingFor(leaseDurationSeconds: number): LeaseTiming {
  return { leaseDurationSeconds, renewDeadlineSeconds: (leaseDurationSeconds * 2) / 3, retryPeriodSeconds: leaseDurationSeconds / 7.5 };
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

/** What one attempt found: this replica holds the Lease, another does, or the write lost a race. */
export type LeaseAttempt = 'held' | 'other' | 'conflict';

/** What one step changed for this replica. */
export type LeaderStep = 'started' | 'lost' | 'unchanged';

/** This replica's identity: the pod name when set (downward API), else host and pid. */
export function leaderIdentity(): string {
  return process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
}

/** Campaigns for and holds the Lease. */
export class LeaderElector {
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = false;
  /** The record as last seen and when (local monotonic ms): the only basis for judging expiry. */
  private observed: { resourceVersion: string; at: number } | null = null;
  /** Local time of this replica's last successful acquire or renew. */
  private lastRenew = 0;

  /** `now`: a monotonic clock in milliseconds (tests pass a fake one). */
  constructor(
    private readonly rest: KubeClient,
    private readonly namespace: string,
    private readonly name: string,
    readonly identity: string,
    private readonly timing: LeaseTiming,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    const { leaseDurationSeconds: lease, renewDeadlineSeconds: renew, retryPeriodSeconds: retry } = timing;
    if (!(retry > 0 && retry < renew && renew < lease)) {
      throw new Error(`leader election needs retryPeriod < renewDeadline < leaseDuration, got ${retry} s, ${renew} s and ${lease} s`);
    }
  }

  private path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases/${this.name}`;
  }

  /** True while this replica considers itself leader. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads, then keeps renewing; calls `onStarted` once when it
   * becomes leader and `onLost` when it loses the Lease or cannot renew within the deadline.
   */
  run(onStarted: () => void, onLost: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      const step = await this.step();
      if (step === 'started') onStarted();
      if (step === 'lost') return onLost();
      if (!this.stopped) this.timer = setTimeout(tick, this.timing.retryPeriodSeconds * 1000);
    };
    void tick();
  }

  /** One round: try to acquire or renew, and decide whether leadership started or ended. */
  async step(): Promise<LeaderStep> {
    let attempt: LeaseAttempt | 'error';
    try {
      attempt = await this.withDeadline(this.tryAcquireOrRenew());
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease update failed');
      attempt = 'error';
    }
    if (attempt === 'held') {
      this.lastRenew = this.now();
      if (this.leading) return 'unchanged';
      this.leading = true;
      this.log.info({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'became leader');
      return 'started';
    }
    if (!this.leading) return 'unchanged';
    // Someone else holds it: lost now. A failed or raced write: retry until the renew deadline.
    if (attempt === 'other' || this.now() - this.lastRenew >= this.timing.renewDeadlineSeconds * 1000) {
      this.leading = false;
      this.log.error({ lease: `${this.namespace}/${this.name}`, identity: this.identity, attempt }, 'lost the lease');
      return 'lost';
    }
    return 'unchanged';
  }

  /** A request that outlives the renew deadline cannot keep the Lease anyway; fail it then. */
  private withDeadline<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lease request took longer than the ${this.timing.renewDeadlineSeconds} s renew deadline`)), this.timing.renewDeadlineSeconds * 1000);
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }

  /** One read and, when this replica may hold the Lease, one write. */
  async tryAcquireOrRenew(): Promise<LeaseAttempt> {
    const stamp = new Date().toISOString().replace(/Z$/, '000Z'); // MicroTime, for humans only
    const duration = Math.max(1, Math.round(this.timing.leaseDurationSeconds));
    let lease: Lease;
    try {
      lease = await this.rest.call<Lease>('GET', this.path());
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      try {
        const created = await this.rest.call<Lease>('POST', `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: duration, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
        });
        this.observe(created?.metadata?.resourceVersion);
        return 'held';
      } catch (e) {
        if (e instanceof KubeError && e.status === 409) return 'conflict'; // another replica created it first
        throw e;
      }
    }
    this.observe(lease.metadata.resourceVersion);
    const spec = lease.spec;
    const mine = spec.holderIdentity === this.identity;
    const held = !!spec.holderIdentity && !mine;
    const leaseMs = (spec.leaseDurationSeconds ?? duration) * 1000;
    if (held && this.now() < this.observed!.at + leaseMs) return 'other';
    const next: Lease = {
      metadata: lease.metadata,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: duration,
        renewTime: stamp,
        acquireTime: mine ? spec.acquireTime ?? stamp : stamp,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      const written = await this.rest.call<Lease>('PUT', this.path(), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...next });
      this.observe(written?.metadata?.resourceVersion);
      return 'held';
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return 'conflict'; // someone else wrote it first
      throw err;
    }
  }

  /** Restarts the local expiry clock whenever the record changed since last seen. */
  private observe(resourceVersion: string | undefined): void {
    const rv = resourceVersion ?? '';
    if (this.observed?.resourceVersion !== rv) this.observed = { resourceVersion: rv, at: this.now() };
  }

  /** Stops campaigning; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.rest.call<Lease>('GET', this.path());
      if (lease.spec.holderIdentity !== this.identity) return;
      await this.rest.call('PUT', this.path(), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: lease.metadata, spec: { ...lease.spec, holderIdentity: null, renewTime: null, acquireTime: null } });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release the lease; it expires by itself');
    }
  }
}
