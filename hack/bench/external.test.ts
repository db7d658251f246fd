import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectorySource } from '../../operator/sources/directory-source';
import { compileSnapshot } from '../../shared/snapshot/compile';
import { statusKey } from '../../shared/snapshot/conditions';
import { EXTERNAL_MODEL, externalObjectsYaml, externalPlans, PROVIDER_KEY } from './external';
import type { Stack } from './stack';

const engine = { ip: '127.0.12.1', port: 8443, model: 'm' };

/** The objects as the directory-source operator reads and compiles them. */
function compile(podIp: string | null) {
  const dir = mkdtempSync(join(tmpdir(), 'external-objects-'));
  try {
    writeFileSync(join(dir, 'objects.yaml'), externalObjectsYaml({ engine, podIp, apiKey: PROVIDER_KEY }));
    const { objects, issues } = new DirectorySource(dir).load();
    return { issues, ...compileSnapshot(objects, { version: 1, generatedAt: '2026-01-01T00:00:00Z', routerConfigNamespace: 'default' }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('externalObjectsYaml', () => {
  it.each([
    { podIp: '127.0.12.2', routes: [EXTERNAL_MODEL, 'm'] },
    { podIp: null, routes: [EXTERNAL_MODEL] },
  ])('pod $podIp: valid objects; the provider is HTTPS with the key and a model rename', ({ podIp, routes }) => {
    const r = compile(podIp);
    expect(r.issues).toEqual([]);
    const provider = r.snapshot.providers![0]!;
    expect(provider).toMatchObject({ baseURL: `https://${engine.ip}:${engine.port}/v1`, model: engine.model, insecureSkipVerify: false });
    // The key is resolved from the Secret (delivered beside the snapshot), so requests are not 503s.
    expect(provider.unavailable).toBeUndefined();
    expect(r.credentials).toEqual([{ version: provider.credential!.version, value: PROVIDER_KEY }]);
    expect(r.snapshot.routes.map((x) => x.modelName).sort()).toEqual([...routes].sort());
    const ext = r.snapshot.routes.find((x) => x.modelName === EXTERNAL_MODEL)!;
    expect(ext.rules[0]!.targets).toEqual([expect.objectContaining({ server: provider.key, external: true, resolved: true })]);
    const ready = r.statuses.get(statusKey('ExternalModelProvider', 'default', 'bench-provider'))!.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True' });
    const endpoints = r.snapshot.servers.flatMap((s) => s.endpoints.map((e) => `${e.address}:${e.port}`));
    expect(endpoints).toEqual(podIp === null ? [] : [`${podIp}:${engine.port}`]);
  });
});

describe('externalPlans', () => {
  const dataplane = { url: 'http://127.0.0.1:4000' } as Stack['dataplanes'][number];
  const plans = externalPlans({ dataplanes: [dataplane] } as unknown as Stack, { ...engine, timeScale: 1000, profile: {} }, '/tmp/ca.crt');

  it.each([
    { path: 'direct', origin: `https://${engine.ip}:${engine.port}`, model: engine.model, viaDataplane: false, pod: 'provider' },
    { path: 'sluice-external', origin: dataplane.url, model: EXTERNAL_MODEL, viaDataplane: true, pod: 'provider' },
    { path: 'sluice-pod', origin: dataplane.url, model: engine.model, viaDataplane: true, pod: 'bench-0' },
  ] as const)('$path goes to $origin asking for $model', ({ path, origin, model, viaDataplane, pod }) => {
    const p = plans[path];
    expect(p.target.origin).toBe(origin);
    expect(p.target.dataplane !== undefined).toBe(viaDataplane);
    expect((JSON.parse(p.load.body) as { model: string }).model).toBe(model);
    expect(p.pod).toBe(pod);
  });

  it('only the direct path carries the provider key and the CA; through Sluice the client sends neither', () => {
    expect(plans.direct.load).toMatchObject({ headers: { authorization: `Bearer ${PROVIDER_KEY}` }, caFile: '/tmp/ca.crt' });
    expect(plans['sluice-external'].load.headers).toBeUndefined();
    expect(plans['sluice-pod'].load.caFile).toBeUndefined();
  });
});
