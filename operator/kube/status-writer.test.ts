/**
 * The status writer against a fake API client, fed by the real validator and compiler: what
 * each object's status shows, that a refused edit is reported with its own generation and field
 * path while the last valid version keeps serving, Programmed's counts and durable-copy failure,
 * no-op writes skipped, and InferencePool status written as Sluice's entry in the parent list.
 */
import type { Issue } from '../../shared/api/validate';
import { validateObject } from '../../shared/api/validate';
import { createLogger } from '../../shared/log/logger';
import { compileSnapshot, type ObjectSet } from '../../shared/snapshot/compile';
import type { CompiledStatus } from '../../shared/snapshot/conditions';
import type { Programmed } from '../programmed';
import { FakeKubeClient } from './fake-kube-client';
import type { ObjectIssue } from './kube-source';
import { statusTargets } from './status-targets';
import { StatusWriter } from './status-writer';

const log = createLogger('test', 'silent');
const GROUP = '/apis/networking.serving.volcano.sh/v1alpha1/namespaces/default';
const T0 = '2026-01-01T00:00:00.000Z';

type Raw = Record<string, any>;

const routeRaw = (name: string, generation: number, regex: string, status?: Raw): Raw => ({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute',
  metadata: { name, namespace: 'default', generation, creationTimestamp: T0 },
  spec: { modelName: name, rules: [{ modelMatch: { uri: { regex } }, targetModels: [{ modelServerName: 's' }] }] },
  ...(status ? { status } : {}),
});
const serverRaw: Raw = {
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelServer', metadata: { name: 's', namespace: 'default', generation: 1 },
  spec: { inferenceEngine: 'vLLM', model: 'm', workloadSelector: { matchLabels: { app: 's' } } },
};
const poolRaw = (apiVersion: string, status: Raw): Raw => ({
  apiVersion, kind: 'InferencePool', metadata: { name: 'pool', namespace: 'default', generation: 4, resourceVersion: '77' },
  spec: apiVersion.endsWith('/v1') ? { targetPorts: [{ number: 8000 }], selector: { matchLabels: { app: 'p' } } } : { targetPortNumber: 8000, selector: { app: 'p' } },
  status,
});

function valid(raw: Raw): any {
  const r = validateObject(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.object;
}

function refusedIssue(raw: Raw): ObjectIssue {
  const r = validateObject(raw);
  if (r.ok) throw new Error('expected the object to be refused');
  return { object: `${raw.kind} ${raw.metadata.namespace}/${raw.metadata.name}`, issues: r.issues, current: raw as never };
}

const prog = (p: Partial<Programmed> = {}): Programmed => ({ applied: 1, total: 1, version: 3, noTargets: 'no data-plane pod matches app=dp', ...p });

/** Compiles `objects`, writes status once with `p`, and returns the PATCH bodies by path. */
async function writeOnce(objects: ObjectSet, issues: ObjectIssue[], p: Programmed, api = new FakeKubeClient().on('PATCH', /.*/, { body: {} }), writer = new StatusWriter(api, log, 'sluice-system')) {
  const { statuses } = compileSnapshot(objects, { version: 3, generatedAt: T0, routerConfigNamespace: 'default' });
  const refused = new Map<string, Issue[]>(issues.map((i) => [i.object, i.issues]));
  const before = api.calls.length;
  await writer.write(statusTargets(objects, issues, 'sluice-system'), statuses as Map<string, CompiledStatus>, refused, p, new Date(T0));
  return { api, writer, bodies: new Map(api.calls.slice(before).map((c) => [c.path, c.body as Raw])) };
}

const cond = (body: Raw | undefined, type: string) => (body?.status.conditions as Raw[]).find((c) => c.type === type);

describe('StatusWriter', () => {
  it('reports a refused edit as Accepted=False for its own generation, while the last valid one keeps serving', async () => {
    const v1 = valid(routeRaw('r', 1, '^/v1/'));
    const stored = { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'serves model r', observedGeneration: 1, lastTransitionTime: T0 }] };
    const v2 = routeRaw('r', 2, '(', stored); // the API server took it: the CRD schema does not parse regexes
    const { bodies } = await writeOnce({ routes: [v1], servers: [valid(serverRaw)], pods: [] }, [refusedIssue(v2)], prog(), undefined, undefined);
    const body = bodies.get(`${GROUP}/modelroutes/r/status`);
    expect(cond(body, 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 2 });
    expect(cond(body, 'Accepted')!.message).toMatch(/^generation 2 refused: spec\.rules\[0\]\.modelMatch\.uri\.regex: not a valid regular expression: .*\. The last valid version keeps serving$/);
    // What still serves is generation 1: its ResolvedRefs and Programmed say so.
    expect(cond(body, 'ResolvedRefs')).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(cond(body, 'Programmed')).toMatchObject({ status: 'True', observedGeneration: 1 });
  });

  it('reports an object refused from its first version, which the compile never saw', async () => {
    const { bodies } = await writeOnce({ routes: [], servers: [], pods: [] }, [refusedIssue(routeRaw('bad', 1, '['))], prog());
    const body = bodies.get(`${GROUP}/modelroutes/bad/status`)!;
    expect(body.status.conditions).toHaveLength(1);
    expect(cond(body, 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 1 });
    expect(cond(body, 'Accepted')!.message).toMatch(/spec\.rules\[0\]\.modelMatch\.uri\.regex: .*Not served until fixed$/);
  });

  it.each([
    ['every replica reported the hash', prog({ applied: 2, total: 2 }), 'True', 'Programmed', /^applied on 2\/2 data-plane replicas \(snapshot 3\)$/],
    ['a replica restarted and has not been re-pushed yet', prog({ applied: 1, total: 2 }), 'False', 'Pending', /^applied on 1\/2 data-plane replicas \(snapshot 3\); the others are pushed again/],
    ['no data plane', prog({ applied: 0, total: 0 }), 'False', 'NoDataPlane', /^no data-plane pod matches app=dp; the route is compiled/],
    ['the durable copy failed', prog({ applied: 2, total: 2, durable: { where: 'ConfigMap sluice-system/sluice-snapshot', version: 2, hash: 'x', error: 'cannot write ConfigMap sluice-system/sluice-snapshot: snapshot 3 is 1200000 bytes gzip-compressed' } }),
      'False', 'DurableCopyFailed', /^applied on 2\/2 data-plane replicas \(snapshot 3\), but cannot write ConfigMap sluice-system\/sluice-snapshot: snapshot 3 is 1200000 bytes.*starts from the older copy \(snapshot 2\)$/],
  ])('Programmed when %s', async (_name, p, status, reason, message) => {
    const { bodies } = await writeOnce({ routes: [valid(routeRaw('r', 1, '^/'))], servers: [valid(serverRaw)], pods: [] }, [], p);
    const c = cond(bodies.get(`${GROUP}/modelroutes/r/status`), 'Programmed')!;
    expect(c).toMatchObject({ status, reason, lastTransitionTime: T0 });
    expect(c.message).toMatch(message);
  });

  it('writes nothing when nothing changed, and again when Programmed does', async () => {
    const objects = { routes: [valid(routeRaw('r', 1, '^/'))], servers: [valid(serverRaw)], pods: [] };
    const first = await writeOnce(objects, [], prog());
    expect(first.bodies.size).toBe(2); // the route and the server
    const again = await writeOnce(objects, [], prog(), first.api, first.writer);
    expect(again.bodies.size).toBe(0);
    const changed = await writeOnce(objects, [], prog({ applied: 0, total: 1 }), first.api, first.writer);
    expect([...changed.bodies.keys()]).toEqual([`${GROUP}/modelroutes/r/status`]);
  });

  it('does not remember a failed patch, so the next reconcile writes it again', async () => {
    const objects = { routes: [valid(routeRaw('r', 1, '^/'))], servers: [], pods: [] };
    const api = new FakeKubeClient().on('PATCH', /modelroutes/, { status: 500, message: 'etcd down' }, 1).on('PATCH', /.*/, { body: {} });
    const first = await writeOnce(objects, [], prog(), api);
    const again = await writeOnce(objects, [], prog(), api, first.writer);
    expect([...again.bodies.keys()]).toEqual([`${GROUP}/modelroutes/r/status`]);
  });

  it.each([
    ['inference.networking.k8s.io/v1', 'parents', { group: 'sluice.dev', kind: 'Router', name: 'sluice', namespace: 'sluice-system' }],
    ['inference.networking.x-k8s.io/v1alpha2', 'parent', { apiVersion: 'sluice.dev/v1', kind: 'Router', name: 'sluice', namespace: 'sluice-system' }],
  ])('writes InferencePool %s conditions as its own parent entry, keeping the others', async (apiVersion, field, parentRef) => {
    const gateway = { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'default' }, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'by the gateway', lastTransitionTime: T0 }] };
    const pool = valid(poolRaw(apiVersion, { [field]: [gateway] }));
    const { api, writer, bodies } = await writeOnce({ routes: [], servers: [], pods: [], inferencePools: [pool] }, [], prog());
    const body = bodies.get(`/apis/${apiVersion}/namespaces/default/inferencepools/pool/status`)!;
    expect(body.metadata).toEqual({ resourceVersion: '77' });
    expect(body.status[field]).toHaveLength(2);
    expect(body.status[field][0]).toEqual(gateway);
    expect(body.status[field][1].parentRef).toEqual(parentRef);
    expect((body.status[field][1].conditions as Raw[]).map((c) => [c.type, c.status, c.observedGeneration])).toEqual([['Ready', 'False', 4], ['SchedulerConfigured', 'True', 4]]);
    // Once stored (the informer's copy has Sluice's entry), the same conditions are not written again.
    const storedPool = valid(poolRaw(apiVersion, body.status));
    const again = await writeOnce({ routes: [], servers: [], pods: [], inferencePools: [storedPool] }, [], prog(), api, writer);
    expect(again.bodies.size).toBe(0);
  });
});
