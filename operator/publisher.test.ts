/**
 * Publisher and Reconciler against a fake data plane on loopback. Hardening defect 6: a data
 * plane reporting version 1e300 (no safe integer above it) drove the operator into thousands of
 * pushes a second; now the operator refuses to renumber there and backs off on repeated 409s,
 * while the ordinary restart case (one 409, renumber, push) stays immediate.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../shared/log/logger';
import { httpDataplaneClient } from './dataplane-client';
import { Publisher } from './publisher';
import { Reconciler } from './reconciler';

const log = createLogger('test', 'silent');

/** A data plane that answers every push with `answer(version)`; records the versions pushed. */
async function fakeDataplane(answer: (version: number) => { status: number; body: unknown }): Promise<{ server: Server; url: string; pushes: { version: number; at: number }[] }> {
  const pushes: { version: number; at: number }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => { text += d.toString(); });
    req.on('end', () => {
      const version = (JSON.parse(text) as { version: number }).version;
      pushes.push({ version, at: Date.now() });
      const a = answer(version);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pushes };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stale = (servingVersion: number) => ({ status: 409, body: { error: { code: 'SLUICE_SNAPSHOT_STALE', message: 'stale', servingVersion } } });

describe('publisher and reconciler on 409', () => {
  const servers: Server[] = [];
  const publishers: Publisher[] = [];
  afterEach(async () => {
    for (const p of publishers.splice(0)) p.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  function start(url: string): Reconciler {
    let reconciler: Reconciler | null = null;
    const publisher = new Publisher({ targets: [url], client: httpDataplaneClient({ token: null }), durable: null, log, onStale: (v) => reconciler?.renumberAbove(v) });
    publishers.push(publisher);
    reconciler = new Reconciler(publisher, log, 'default');
    reconciler.reconcile({ routes: [], servers: [], pods: [] });
    return reconciler;
  }

  it('renumbers above a data plane serving a higher version and pushes again at once', async () => {
    const dp = await fakeDataplane((v) => (v > 5 ? { status: 200, body: { status: 'applied' } } : stale(5)));
    servers.push(dp.server);
    const reconciler = start(dp.url);
    await until('the renumbered push', () => dp.pushes.length >= 2);
    expect(dp.pushes.map((p) => p.version)).toEqual([1, 6]);
    expect(dp.pushes[1]!.at - dp.pushes[0]!.at).toBeLessThan(90); // no backoff for the first 409
    expect(reconciler.current()!.version).toBe(6);
  });

  it('does not renumber above 1e300 and backs off exponentially instead of looping', async () => {
    const dp = await fakeDataplane(() => stale(1e300));
    servers.push(dp.server);
    const reconciler = start(dp.url);
    await until('six refused pushes', () => dp.pushes.length >= 6);
    expect(reconciler.current()!.version).toBe(1);
    expect(dp.pushes.every((p) => p.version === 1)).toBe(true);
    // Backoff 100, 200, 400, 800 ms between pushes 2..6 (the first retry is immediate).
    expect(dp.pushes[5]!.at - dp.pushes[1]!.at).toBeGreaterThanOrEqual(1_400);
  });

  it('backs off on repeated 409s even when each one could be renumbered', async () => {
    // A data plane always one ahead: each renumber is answered by a higher version.
    const dp = await fakeDataplane((v) => stale(v + 1));
    servers.push(dp.server);
    start(dp.url);
    await until('five refused pushes', () => dp.pushes.length >= 5);
    expect(dp.pushes[4]!.at - dp.pushes[1]!.at).toBeGreaterThanOrEqual(600);
  });

  it.each([[1e300], [Number.MAX_SAFE_INTEGER], [-1], [1.5]])('starts numbering from 1 when the previous version is %s', (version) => {
    const publisher = new Publisher({ targets: [], client: httpDataplaneClient({ token: null }), durable: null, log, onStale: () => undefined });
    const r = new Reconciler(publisher, log, 'default', { version, hash: 'x' });
    expect(r.reconcile({ routes: [], servers: [], pods: [] }).snapshot.version).toBe(1);
  });
});
