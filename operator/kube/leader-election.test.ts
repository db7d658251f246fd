/**
 * Leader election against a fake Lease API (optimistic concurrency on resourceVersion, as the
 * API server does) and a fake monotonic clock: expiry is judged from when the candidate saw the
 * record change, never from renewTime, so skewed clocks cannot steal a Lease; the leader steps
 * down after the renew deadline, before a candidate may take over; timing is checked.
 */
import { createLogger } from '../../shared/log/logger';
import { KubeError, type KubeClient } from './kube-rest';
import { LeaderElector, leaseTimingFor, type LeaseTiming } from './leader-election';

const log = createLogger('test', 'silent');
const PATH = '/apis/coordination.k8s.io/v1/namespaces/ops/leases/sluice-operator';
const TIMING: LeaseTiming = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string | null; leaseDurationSeconds?: number; renewTime?: string | null; acquireTime?: string | null; leaseTransitions?: number };
}

/** One Lease in memory; PUT needs the current resourceVersion. `failing` makes every call a 500. */
class FakeLeaseApi implements KubeClient {
  lease: Lease | null = null;
  failing = false;
  private rv = 0;

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.failing) throw new KubeError(500, `${method} ${path}: 500 etcdserver: request timed out`, 'InternalError');
    const copy = () => JSON.parse(JSON.stringify(this.lease)) as T;
    if (method === 'GET' && path === PATH) {
      if (!this.lease) throw new KubeError(404, 'not found', 'NotFound');
      return copy();
    }
    const b = body as Lease;
    if (method === 'POST') {
      if (this.lease) throw new KubeError(409, 'already exists', 'AlreadyExists');
      this.lease = { metadata: { ...b.metadata, resourceVersion: String(++this.rv) }, spec: b.spec };
      return copy();
    }
    if (method === 'PUT' && path === PATH) {
      if (!this.lease || b.metadata.resourceVersion !== this.lease.metadata.resourceVersion) throw new KubeError(409, 'the object has been modified', 'Conflict');
      this.lease = { metadata: { ...b.metadata, resourceVersion: String(++this.rv) }, spec: b.spec };
      return copy();
    }
    throw new Error(`unexpected ${method} ${path}`);
  }

  /** Another replica writes the record (a renewal, with whatever renewTime its clock says). */
  writeAs(holder: string | null, renewTime: string | null): void {
    this.lease = { metadata: { name: 'sluice-operator', namespace: 'ops', resourceVersion: String(++this.rv) }, spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime, acquireTime: renewTime, leaseTransitions: 0 } };
  }
}

function elector(api: KubeClient, identity: string, clock: { t: number }, timing = TIMING): LeaderElector {
  return new LeaderElector(api, 'ops', 'sluice-operator', identity, timing, log, () => clock.t);
}

describe('LeaderElector', () => {
  it('takes a Lease whose renewTime is long past only after watching it unchanged for the lease duration', async () => {
    const api = new FakeLeaseApi();
    api.writeAs('other', '2000-01-01T00:00:00.000000Z'); // the holder's clock is years behind, or it died
    const clock = { t: 1_000_000 };
    const me = elector(api, 'me', clock);
    expect(await me.tryAcquireOrRenew()).toBe('other'); // first sight starts the local clock
    clock.t += 14_999;
    expect(await me.tryAcquireOrRenew()).toBe('other');
    clock.t += 1;
    expect(await me.tryAcquireOrRenew()).toBe('held');
    expect(api.lease!.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 1, leaseDurationSeconds: 15 });
  });

  it('never takes a Lease that keeps being renewed, however far ahead its own clock runs', async () => {
    const api = new FakeLeaseApi();
    const clock = { t: 0 };
    const me = elector(api, 'me', clock);
    for (let i = 0; i < 10; i++) {
      api.writeAs('other', '1970-01-01T00:00:00.000000Z'); // renewed, with a renewTime that looks ancient
      clock.t += 20_000; // and a whole lease duration passes between our looks
      expect(await me.tryAcquireOrRenew()).toBe('other');
    }
    expect(api.lease!.spec.holderIdentity).toBe('other');
  });

  it('takes a released Lease at once, and creates a missing one', async () => {
    const released = new FakeLeaseApi();
    released.writeAs(null, null);
    expect(await elector(released, 'me', { t: 0 }).tryAcquireOrRenew()).toBe('held');
    const missing = new FakeLeaseApi();
    expect(await elector(missing, 'me', { t: 0 }).tryAcquireOrRenew()).toBe('held');
    expect(missing.lease!.spec.holderIdentity).toBe('me');
  });

  it('lets only one of two racing candidates win', async () => {
    const api = new FakeLeaseApi();
    api.writeAs(null, null);
    const clock = { t: 0 };
    const results = await Promise.all([elector(api, 'a', clock).tryAcquireOrRenew(), elector(api, 'b', clock).tryAcquireOrRenew()]);
    expect(results.sort()).toEqual(['conflict', 'held']);
  });

  it('a leader that cannot renew steps down at the renew deadline, before a candidate may take over', async () => {
    const api = new FakeLeaseApi();
    const clock = { t: 0 };
    const leader = elector(api, 'leader', clock);
    const candidate = elector(api, 'candidate', clock);
    expect(await leader.step()).toBe('started');
    expect(await candidate.tryAcquireOrRenew()).toBe('other'); // the candidate saw the leader's last renewal at t=0
    api.failing = true; // the leader's writes fail from now on (a partition, say)
    clock.t = 2_000;
    expect(await leader.step()).toBe('unchanged');
    clock.t = 9_999;
    expect(await leader.step()).toBe('unchanged');
    expect(leader.isLeader()).toBe(true);
    clock.t = 10_000;
    expect(await leader.step()).toBe('lost');
    expect(leader.isLeader()).toBe(false);
    // Only later, at 15 s, may the candidate take over: no moment with two leaders.
    api.failing = false;
    clock.t = 14_999;
    expect(await candidate.tryAcquireOrRenew()).toBe('other');
    clock.t = 15_000;
    expect(await candidate.tryAcquireOrRenew()).toBe('held');
  });

  it('a leader that finds another holder steps down at once', async () => {
    const api = new FakeLeaseApi();
    const clock = { t: 0 };
    const leader = elector(api, 'leader', clock);
    expect(await leader.step()).toBe('started');
    api.writeAs('usurper', null);
    clock.t = 100;
    expect(await leader.step()).toBe('lost');
  });

  it('renews its own Lease without counting a transition, and releases it on stop', async () => {
    const api = new FakeLeaseApi();
    const clock = { t: 0 };
    const leader = elector(api, 'leader', clock);
    expect(await leader.step()).toBe('started');
    clock.t = 2_000;
    expect(await leader.step()).toBe('unchanged');
    expect(api.lease!.spec).toMatchObject({ holderIdentity: 'leader', leaseTransitions: 0 });
    await leader.stop();
    expect(api.lease!.spec.holderIdentity).toBeNull();
  });

  it.each([
    [{ leaseDurationSeconds: 15, renewDeadlineSeconds: 15, retryPeriodSeconds: 2 }],
    [{ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 10 }],
    [{ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 0 }],
  ])('refuses timing %j', (timing) => {
    expect(() => elector(new FakeLeaseApi(), 'me', { t: 0 }, timing)).toThrow(/retryPeriod < renewDeadline < leaseDuration/);
  });

  it.each([[2], [4], [15], [60]])('derives valid timing from a %d s lease', (seconds) => {
    expect(() => elector(new FakeLeaseApi(), 'me', { t: 0 }, leaseTimingFor(seconds))).not.toThrow();
    expect(leaseTimingFor(15)).toEqual({ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });
  });
});
