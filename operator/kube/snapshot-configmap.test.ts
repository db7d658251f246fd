/**
 * The snapshot ConfigMap writer against a fake API client: the size limit refuses before any API
 * call, with a message that says why; create-or-patch, including the 409 race; API errors keep
 * the API server's message; a renumbered snapshot (same hash, new version) is stored again.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { RoutingSnapshot } from '../../shared/snapshot/schema';
import { FakeKubeClient } from './fake-kube-client';
import { MAX_CONFIGMAP_BYTES, SnapshotConfigMap } from './snapshot-configmap';

const PATH = '/api/v1/namespaces/sluice-system/configmaps/sluice-snapshot';
const COLLECTION = '/api/v1/namespaces/sluice-system/configmaps';

function snapshot(version: number, hash: string, padding = ''): RoutingSnapshot {
  return { apiVersion: 'sluice.dev/v1alpha1', kind: 'RoutingSnapshot', version, hash, generatedAt: '2026-01-01T00:00:00Z', routes: [], servers: [], schedulers: {}, ...(padding ? { padding } : {}) } as unknown as RoutingSnapshot;
}

describe('SnapshotConfigMap', () => {
  it('refuses a snapshot over 1 MiB even compressed, without calling the API server', async () => {
    const api = new FakeKubeClient();
    // Random base64 compresses to about 3/4 (6 bits of entropy per character): 2 MB stays near 1.5 MB.
    const big = snapshot(3, 'a'.repeat(64), randomBytes(1_500_000).toString('base64'));
    const err = await new SnapshotConfigMap(api, 'sluice-system').write(big).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/^cannot write ConfigMap sluice-system\/sluice-snapshot: snapshot 3 is \d+ bytes gzip-compressed \(\d+ as JSON\), over the \d+ a ConfigMap can hold/);
    expect(Number(/is (\d+) bytes/.exec(err!.message)![1])).toBeGreaterThan(MAX_CONFIGMAP_BYTES);
    expect(api.calls).toEqual([]);
  });

  it('stores a large but compressible snapshot as gzip in binaryData', async () => {
    const api = new FakeKubeClient().on('PATCH', PATH, { body: {} });
    await new SnapshotConfigMap(api, 'sluice-system').write(snapshot(2, 'b'.repeat(64), 'x'.repeat(2_000_000)));
    const body = api.calls[0]!.body as { data: null; binaryData: Record<string, string> };
    expect(body.data).toBeNull();
    const json = JSON.parse(gunzipSync(Buffer.from(body.binaryData['snapshot.json']!, 'base64')).toString()) as { version: number };
    expect(json.version).toBe(2);
  });

  it.each([
    ['patches an existing ConfigMap', [['PATCH', { body: {} }]], ['PATCH']],
    ['creates it when the patch finds none', [['PATCH', { status: 404, reason: 'NotFound' }], ['POST', { body: {} }]], ['PATCH', 'POST']],
    ['patches after all when someone created it between the patch and the create (409)',
      [['PATCH', { status: 404, reason: 'NotFound' }], ['POST', { status: 409, reason: 'AlreadyExists' }], ['PATCH', { body: {} }]], ['PATCH', 'POST', 'PATCH']],
  ] as const)('%s', async (_name, answers, methods) => {
    const api = new FakeKubeClient();
    for (const [method, answer] of answers) api.on(method, method === 'POST' ? COLLECTION : PATH, answer, 1);
    await new SnapshotConfigMap(api, 'sluice-system').write(snapshot(1, 'c'.repeat(64)));
    expect(api.calls.map((c) => c.method)).toEqual(methods);
    const last = api.calls.at(-1)!.body as { metadata: { annotations: Record<string, string> }; data: Record<string, string> };
    expect(last.metadata.annotations['sluice.dev/snapshot-version']).toBe('1');
    expect(JSON.parse(last.data['snapshot.json']!).hash).toBe('c'.repeat(64));
  });

  it('rejects with the API server\'s message when the write is refused', async () => {
    const api = new FakeKubeClient().on('PATCH', PATH, { status: 403, reason: 'Forbidden', message: 'configmaps "sluice-snapshot" is forbidden: User "x" cannot patch resource' });
    await expect(new SnapshotConfigMap(api, 'sluice-system').write(snapshot(1, 'd'.repeat(64)))).rejects.toThrow(/^cannot write ConfigMap sluice-system\/sluice-snapshot: PATCH .*403 configmaps "sluice-snapshot" is forbidden/);
  });

  it('skips a write of what is stored, but stores a renumbered snapshot (same hash, new version)', async () => {
    const api = new FakeKubeClient().on('PATCH', PATH, { body: {} });
    const cm = new SnapshotConfigMap(api, 'sluice-system');
    await cm.write(snapshot(1, 'e'.repeat(64)));
    await cm.write(snapshot(1, 'e'.repeat(64)));
    expect(api.calls).toHaveLength(1);
    await cm.write(snapshot(7, 'e'.repeat(64)));
    expect(api.calls).toHaveLength(2);
  });
});
