/**
 * One active operator replica through a coordination.k8s.io Lease (`sluice-operator` in the
 * operator's namespace), the scheme client-go's leader election uses: the holder renews
 * `renewTime` every retry period; another replica takes the Lease over only once it has gone
 * unrenewed for `leaseDurationSeconds`. Writes carry the Lease's resourceVersion, so two replicas
 * racing for it cannot both win. On a clean shutdown the holder releases the Lease at once.
 */
import { hostname } from 'node:os';
import type { Logger } from '../../shared/log/logger';
import { KubeError, type KubeRest } from './kube-rest';

/** Lease timing, in seconds. */
export interface LeaseTiming {
  leaseDurationSeconds: number;
  retryPeriodSeconds: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

/** This replica's identity: the pod name when set (downward API), else host and pid. */
export function leaderIdentity(): string {
  return process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
}

/** Campaigns for and holds the Lease. */
export class LeaderElector {
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = false;

  constructor(
    private readonly rest: KubeRest,
    private readonly namespace: string,
    private readonly name: string,
    readonly identity: string,
    private readonly timing: LeaseTiming,
    private readonly log: Logger,
  ) {}

  private path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases/${this.name}`;
  }

  /**
   * Campaigns until this replica leads, then keeps renewing; calls `onStarted` once when it
   * becomes leader and `onLost` if it ever fails to renew in time.
   */
  run(onStarted: () => void, onLost: () => void): void {
    let lastRenew = 0;
    const tick = async () => {
      if (this.stopped) return;
      try {
        const held = await this.tryAcquireOrRenew();
        if (held) {
          lastRenew = Date.now();
          if (!this.leading) {
            this.leading = true;
            this.log.info({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'became leader');
            onStarted();
          }
        } else if (this.leading) {
          this.leading = false;
          onLost();
          return;
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'lease update failed');
        if (this.leading && Date.now() - lastRenew > this.timing.leaseDurationSeconds * 1000) {
          this.leading = false;
          onLost();
          return;
        }
      }
      this.timer = setTimeout(tick, this.timing.retryPeriodSeconds * 1000);
    };
    void tick();
  }

  /** True when this replica holds the Lease now. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    const stamp = now.toISOString().replace(/Z$/, '000Z'); // MicroTime: microsecond precision
    let lease: Lease;
    try {
      lease = await this.rest.call<Lease>('GET', this.path());
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      try {
        await this.rest.call('POST', `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: this.timing.leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (e instanceof KubeError && e.status === 409) return false; // another replica created it first
        throw e;
      }
    }
    const spec = lease.spec;
    const mine = spec.holderIdentity === this.identity;
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = !spec.holderIdentity || now.getTime() > renewed + (spec.leaseDurationSeconds ?? this.timing.leaseDurationSeconds) * 1000;
    if (!mine && !expired) return false;
    const next: Lease = {
      metadata: lease.metadata,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: this.timing.leaseDurationSeconds,
        renewTime: stamp,
        acquireTime: mine ? spec.acquireTime ?? stamp : stamp,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      await this.rest.call('PUT', this.path(), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...next });
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return false; // someone else wrote it first
      throw err;
    }
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
