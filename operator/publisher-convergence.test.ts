/**
 * The publisher against fake data planes (a DataplaneClient that behaves like the admin API's
 * snapshot store) and a fake durable copy: served-hash checks find a data plane that lost or
 * changed its snapshot and push it again, only reported hashes count as applied, the durable
 * copy is written before any push, a failed write is reported and retried without holding the
 * push back, and the 409 path stores the renumbered snapshot before pushing it.
 */
import { createLogger } from '../shared/log/logger';
import type { RoutingSnapshot } from '../shared/snapshot/schema';
import type { DataplaneAnswer, DataplaneClient } from './dataplane-client';
import { Publisher, type DurableCopy, type TargetState } from './publisher';
import { Reconciler } from './reconciler';

const log = createLogger('test', 'silent');

/** Data planes in memory, answering as dataplane/server/admin-server.ts does. */
class FakeDataplanes implements DataplaneClient {
  readonly serving = new Map<string, { version: number; hash: string }>();
  readonly down = new Set<string>();
  /** Provider credential versions each data plane holds, as proxy/credentials.ts keeps them. */
  readonly credentials = new Map<string, Set<string>>();
  /** Versions each served snapshot names. */
  private readonly named = new Map<string, string[]>();
  readonly events: string[];
  pushes = 0;
  private gate: Promise<void> = Promise.resolve();

  constructor(events: string[]) {
    this.events = events;
  }

  /** Holds every push until the returned function is called, so a test can look in between. */
  hold(): () => void {
    let release: () => void = () => undefined;
    this.gate = new Promise((r) => { release = r; });
    return release;
  }

  async push(url: string, body: Buffer): Promise<DataplaneAnswer> {
    await this.gate;
    if (this.down.has(url)) throw new Error(`connect ECONNREFUSED ${url}`);
    const { credentials, ...next } = JSON.parse(body.toString()) as RoutingSnapshot & { credentials?: { version: string }[] };
    this.pushes++;
    this.events.push(`push ${url} ${next.version}`);
    const cur = this.serving.get(url);
    if (cur && (next.version < cur.version || (next.version === cur.version && next.hash !== cur.hash))) {
      return { status: 409, text: JSON.stringify({ error: { code: 'SLUICE_SNAPSHOT_STALE', message: 'stale', servingVersion: cur.version } }) };
    }
    this.serving.set(url, { version: next.version, hash: next.hash });
    this.credentials.set(url, new Set((credentials ?? []).map((c) => c.version)));
    this.named.set(url, (next.providers ?? []).flatMap((p) => (p.credential ? [p.credential.version] : [])));
    return { status: 200, text: JSON.stringify({ status: 'applied', version: next.version, hash: next.hash, credentialsMissing: this.missing(url) }) };
  }

  private missing(url: string): number {
    const held = this.credentials.get(url) ?? new Set();
    return (this.named.get(url) ?? []).filter((v) => !held.has(v)).length;
  }

  async served(url: string): Promise<DataplaneAnswer> {
    if (this.down.has(url)) throw new Error(`connect ECONNREFUSED ${url}`);
    const cur = this.serving.get(url);
    if (!cur) return { status: 503, text: JSON.stringify({ error: { code: 'SLUICE_NOT_READY', message: 'no snapshot applied yet' } }) };
    return { status: 200, text: JSON.stringify({ ...cur, generatedAt: '2026-01-01T00:00:00Z', credentialsMissing: this.missing(url) }) };
  }
}

/** A durable copy that records writes and fails while `failing` is above zero. */
class FakeDurable implements DurableCopy {
  readonly where = 'ConfigMap sluice-system/sluice-snapshot';
  failing = 0;
  constructor(private readonly events: string[]) {}
  async write(snapshot: RoutingSnapshot): Promise<void> {
    if (this.failing > 0) {
      this.failing--;
      this.events.push(`write-failed ${snapshot.version}`);
      throw new Error('cannot write ConfigMap sluice-system/sluice-snapshot: 500 etcdserver: request timed out');
    }
    this.events.push(`write ${snapshot.version}`);
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const A = 'http://127.0.0.1:1';
const B = 'http://127.0.0.2:1';

describe('publisher convergence', () => {
  const publishers: Publisher[] = [];
  afterEach(() => {
    for (const p of publishers.splice(0)) p.close();
  });

  function start(opts: { targets: string[]; durable?: boolean }) {
    const events: string[] = [];
    const dataplanes = new FakeDataplanes(events);
    const durable = opts.durable ? new FakeDurable(events) : null;
    const appliedCounts: number[] = [];
    let reconciler: Reconciler | null = null;
    let publisher: Publisher | null = null;
    const onProgress = (states: readonly TargetState[]) => {
      const hash = reconciler?.current()?.hash;
      appliedCounts.push(states.filter((s) => s.appliedHash === hash).length);
    };
    publisher = new Publisher({ targets: opts.targets, client: dataplanes, durable, log, onStale: (v) => reconciler?.renumberAbove(v), onProgress });
    publishers.push(publisher);
    reconciler = new Reconciler(publisher, log, 'default');
    return { events, dataplanes, durable, appliedCounts, publisher, reconciler };
  }

  const applied = (p: Publisher, hash: string) => p.targets().filter((t) => t.appliedHash === hash).length;

  it('pushes again to a data plane that restarted without its snapshot: N-1/N, then N/N', async () => {
    const { dataplanes, appliedCounts, publisher, reconciler } = start({ targets: [A, B] });
    const hash = reconciler.reconcile({ routes: [], servers: [], pods: [] }).snapshot.hash;
    await publisher.settled();
    expect(applied(publisher, hash)).toBe(2);
    // The container restarted in place: same URL, no snapshot. Nothing pushes until a check runs.
    dataplanes.serving.delete(A);
    const pushesBefore = dataplanes.pushes;
    appliedCounts.length = 0;
    const release = dataplanes.hold();
    await publisher.verify();
    expect(publisher.targets().find((t) => t.url === A)!.lastError).toMatch(/answered 503: no snapshot applied yet/);
    release();
    await publisher.settled();
    expect(dataplanes.serving.get(A)!.hash).toBe(hash);
    expect(dataplanes.pushes).toBe(pushesBefore + 1);
    expect(appliedCounts).toEqual([1, 2]);
  });

  it('pushes again to a data plane that serves the snapshot without the provider credentials it names', async () => {
    const { dataplanes, publisher, reconciler } = start({ targets: [A] });
    const G = 'networking.serving.volcano.sh/v1alpha1' as const;
    const objects = {
      routes: [], servers: [], pods: [],
      externalProviders: [{ apiVersion: G, kind: 'ExternalModelProvider' as const, metadata: { name: 'p', namespace: 'default' }, spec: { baseURL: 'https://api.example.com', auth: { secretRef: { name: 's', key: 'k' } } } }],
      secrets: [{ apiVersion: 'v1' as const, kind: 'Secret' as const, metadata: { name: 's', namespace: 'default' }, stringData: { k: 'sk-1' } }],
    };
    const hash = reconciler.reconcile(objects).snapshot.hash;
    await publisher.settled();
    expect(applied(publisher, hash)).toBe(1);
    expect(dataplanes.credentials.get(A)!.size).toBe(1);
    // Restarted from its snapshot file: the same hash, but no credentials (they are never stored).
    dataplanes.credentials.set(A, new Set());
    const pushesBefore = dataplanes.pushes;
    await publisher.verify();
    await publisher.settled();
    expect(dataplanes.pushes).toBe(pushesBefore + 1);
    expect(dataplanes.credentials.get(A)!.size).toBe(1);
    expect(applied(publisher, hash)).toBe(1);
    expect(publisher.targets()[0]!.lastError).toBeNull();
  });

  it('pushes again to a data plane serving other content, renumbering above it', async () => {
    const { dataplanes, publisher, reconciler } = start({ targets: [A] });
    const hash = reconciler.reconcile({ routes: [], servers: [], pods: [] }).snapshot.hash;
    await publisher.settled();
    dataplanes.serving.set(A, { version: 1, hash: 'f'.repeat(64) }); // something else pushed it
    const release = dataplanes.hold();
    await publisher.verify();
    expect(publisher.targets()[0]!.appliedHash).toBe('f'.repeat(64));
    expect(publisher.targets()[0]!.lastError).toMatch(/serves snapshot 1 \(hash ffffffffffff\), not 1/);
    release();
    await publisher.settled();
    expect(dataplanes.serving.get(A)).toEqual({ version: 2, hash });
    expect(applied(publisher, hash)).toBe(1);
  });

  it('does not count an unreachable data plane, and pushes as soon as a check finds it back', async () => {
    const { dataplanes, publisher, reconciler } = start({ targets: [A, B] });
    const hash = reconciler.reconcile({ routes: [], servers: [], pods: [] }).snapshot.hash;
    await publisher.settled();
    dataplanes.down.add(A);
    dataplanes.serving.delete(A);
    await publisher.verify();
    expect(applied(publisher, hash)).toBe(1);
    expect(publisher.targets().find((t) => t.url === A)!.lastError).toMatch(/ECONNREFUSED/);
    // Let the push loop back off: 100 + 200 + 400 + 800 ms, so its next try is 1.6 s away.
    const failed = () => publisher.targets().find((t) => t.url === A)!.lastError === `connect ECONNREFUSED ${A}`;
    await until('the push loop to fail', failed);
    await new Promise((r) => setTimeout(r, 1_600));
    dataplanes.down.delete(A);
    const t0 = Date.now();
    await publisher.verify();
    await until('the snapshot pushed back', () => dataplanes.serving.get(A)?.hash === hash, 5_000);
    // Woken by the check, not after the loop's backoff (1.6 s or more by now).
    expect(Date.now() - t0).toBeLessThan(800);
    expect(applied(publisher, hash)).toBe(2);
  });

  it('writes the durable copy before the first push', async () => {
    const { events, publisher, reconciler } = start({ targets: [A, B], durable: true });
    reconciler.reconcile({ routes: [], servers: [], pods: [] });
    await publisher.settled();
    expect(events[0]).toBe('write 1');
    expect(events.slice(1).sort()).toEqual([`push ${A} 1`, `push ${B} 1`]);
    expect(publisher.durable()).toEqual({ where: 'ConfigMap sluice-system/sluice-snapshot', version: 1, hash: reconciler.current()!.hash, error: null });
  });

  it('reports a failed durable write, still pushes, and retries the write until it succeeds', async () => {
    const { events, durable, publisher, reconciler } = start({ targets: [A], durable: true });
    durable!.failing = 1;
    const hash = reconciler.reconcile({ routes: [], servers: [], pods: [] }).snapshot.hash;
    await publisher.settled();
    expect(events).toEqual(['write-failed 1', `push ${A} 1`]);
    expect(publisher.durable()).toMatchObject({ version: null, error: expect.stringMatching(/etcdserver: request timed out/) });
    expect(applied(publisher, hash)).toBe(1);
    await until('the retried write', () => publisher.durable()!.error === null, 5_000);
    expect(events).toEqual(['write-failed 1', `push ${A} 1`, 'write 1']);
    expect(publisher.durable()!.version).toBe(1);
  });

  it('on 409 stores the renumbered snapshot before pushing it', async () => {
    const { events, dataplanes, publisher, reconciler } = start({ targets: [A], durable: true });
    dataplanes.serving.set(A, { version: 5, hash: 'e'.repeat(64) }); // an earlier operator run's snapshot
    reconciler.reconcile({ routes: [], servers: [], pods: [] });
    await publisher.settled();
    expect(events).toEqual(['write 1', `push ${A} 1`, 'write 6', `push ${A} 6`]);
    expect(dataplanes.serving.get(A)!.version).toBe(6);
    expect(publisher.durable()!.version).toBe(6);
  });

  it('checks on a jittered timer once started', async () => {
    const { dataplanes, publisher, reconciler } = start({ targets: [A] });
    const hash = reconciler.reconcile({ routes: [], servers: [], pods: [] }).snapshot.hash;
    await publisher.settled();
    dataplanes.serving.delete(A);
    const t0 = Date.now();
    publisher.startVerifying(200);
    await until('the timer-driven re-push', () => dataplanes.serving.get(A)?.hash === hash, 5_000);
    // First round at 180..220 ms; the re-push follows at once.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(170);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});
