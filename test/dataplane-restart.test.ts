/**
 * A data plane restarted in place (same address and admin port, no snapshot file: what a
 * container restart inside its pod looks like) is found by the operator's served-hash check and
 * gets the current snapshot back within the check interval; meanwhile Programmed counts only the
 * replicas that reported serving it, N-1/N, and returns to N/N. Real operator and data planes on
 * loopback, directory source.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startNode, stopAll, tempDir, waitFor, type Proc } from './helpers/processes';

const NET = 48;
const ADMIN_PORT = 18491;
const VERIFY_MS = 1_000;
const TOKEN = 'restart-token';
const IPS = [`127.${NET}.1.1`, `127.${NET}.1.2`];

const OBJECTS = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: s, namespace: default}
spec:
  model: m
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: s}}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: r, namespace: default}
spec:
  modelName: r
  rules: [{targetModels: [{modelServerName: s}]}]
`;

interface StatusFile {
  snapshot: { version: number; hash: string; programmed: string; condition: { status: string; reason: string } };
  targets: { url: string; appliedHash: string | null; lastError: string | null }[];
}

let tmp: { dir: string; cleanup: () => void };
let statusFile = '';
const dataplanes: Proc[] = [];

const startDataplane = async (ip: string) => (await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', `${ip}:${ADMIN_PORT}`, '--push-token', TOKEN], /"trafficPort":(\d+)/)).proc;
const status = (): StatusFile => JSON.parse(readFileSync(statusFile, 'utf8')) as StatusFile;
async function servedHash(ip: string): Promise<string | null> {
  const res = await request(`http://${ip}:${ADMIN_PORT}/v1/snapshot`);
  if (res.statusCode !== 200) {
    await res.body.dump();
    return null;
  }
  return ((await res.body.json()) as { hash: string }).hash;
}

beforeAll(async () => {
  tmp = tempDir('restart');
  const dir = join(tmp.dir, 'objects');
  mkdirSync(dir);
  writeFileSync(join(dir, 'objects.yaml'), OBJECTS);
  statusFile = join(tmp.dir, 'status.json');
  for (const ip of IPS) dataplanes.push(await startDataplane(ip));
  await startNode('operator/main.js', ['--watch-dir', dir, '--snapshot-out', join(tmp.dir, 'snapshot.json'), '--status-out', statusFile,
    ...IPS.flatMap((ip) => ['--push-url', `http://${ip}:${ADMIN_PORT}`]), '--push-token', TOKEN, '--debounce-ms', '50', '--verify-interval-ms', String(VERIFY_MS)], /snapshot compiled/);
}, 60_000);

afterAll(async () => {
  await stopAll();
  tmp?.cleanup();
});

describe('a data plane restarted in place', () => {
  it('gets the snapshot back within the check interval; Programmed goes 2/2 → 1/2 → 2/2', async () => {
    const first = await waitFor('applied on 2/2', () => (/^applied on 2\/2 /.test(status().snapshot.programmed) ? status() : null));
    const hash = first.snapshot.hash;
    expect(first.snapshot.condition).toMatchObject({ status: 'True', reason: 'Programmed' });

    await dataplanes[0]!.stop();
    // Found by the next check (at most 1.1 intervals away), not by a push: nothing changed to push.
    const down = await waitFor('applied on 1/2', () => (/^applied on 1\/2 /.test(status().snapshot.programmed) ? status() : null), 5 * VERIFY_MS);
    expect(down.snapshot.condition).toMatchObject({ status: 'False', reason: 'Pending' });
    expect(down.targets.find((t) => t.url.includes(IPS[0]!))!.lastError).toMatch(/ECONNREFUSED/);

    dataplanes[0] = await startDataplane(IPS[0]!);
    const restartedAt = Date.now();
    // It comes back empty (no --snapshot-file), as a restarted container without the ConfigMap mount would.
    await waitFor('the snapshot served again', async () => (await servedHash(IPS[0]!)) === hash, 5 * VERIFY_MS);
    // One check interval (jittered up to +10 %), plus room for the push on a busy machine. The
    // push loop's own backoff (up to 5 s by now) would miss this bound without the check's wake-up.
    expect(Date.now() - restartedAt).toBeLessThan(1.1 * VERIFY_MS + 1_000);
    const back = await waitFor('applied on 2/2 again', () => (/^applied on 2\/2 /.test(status().snapshot.programmed) ? status() : null));
    expect(back.snapshot.hash).toBe(hash);
    expect(await servedHash(IPS[1]!)).toBe(hash);
  });
});
