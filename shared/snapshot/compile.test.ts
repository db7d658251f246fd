import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Pod } from '../api/core-types';
import type { ModelRoute } from '../api/model-route';
import type { ModelServer } from '../api/model-server';
import { validateObject } from '../api/validate';
import { compileSnapshot, type ObjectSet } from './compile';
import { validateSnapshot } from './validate-snapshot';

const valid = <T>(o: unknown): T => {
  const r = validateObject(o);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.object as T;
};
const server = (name: string, spec: Record<string, unknown> = {}) => valid<ModelServer>({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelServer', metadata: { name, namespace: 'default', generation: 2 },
  spec: { inferenceEngine: 'vLLM', model: `model-${name}`, workloadSelector: { matchLabels: { app: name } }, workloadPort: { port: 8000 }, ...spec },
});
const route = (name: string, created: string, spec: Record<string, unknown>) => valid<ModelRoute>({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name, namespace: 'default', creationTimestamp: created, generation: 1 }, spec,
});
const pod = (name: string, labels: Record<string, string>, ip: string, opts: { phase?: string; ready?: boolean; ns?: string } = {}) => valid<Pod>({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: opts.ns ?? 'default', labels },
  status: { phase: opts.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
});
const cfg = { version: 1, generatedAt: '2026-01-01T00:00:00Z', routerConfigNamespace: 'default' };

describe('compileSnapshot', () => {
  it('selects pods whose labels match all matchLabels, Running and Ready only, same namespace', () => {
    const objects: ObjectSet = {
      routes: [],
      servers: [server('a', { workloadSelector: { matchLabels: { app: 'a', tier: 'gpu' } } })],
      pods: [
        pod('ok', { app: 'a', tier: 'gpu', extra: 'x' }, '10.0.0.1'),
        pod('partial', { app: 'a' }, '10.0.0.2'),
        pod('pending', { app: 'a', tier: 'gpu' }, '10.0.0.3', { phase: 'Pending' }),
        pod('unready', { app: 'a', tier: 'gpu' }, '10.0.0.4', { ready: false }),
        pod('elsewhere', { app: 'a', tier: 'gpu' }, '10.0.0.5', { ns: 'other' }),
      ],
    };
    const { snapshot, statuses } = compileSnapshot(objects, cfg);
    expect(snapshot.servers[0]!.endpoints).toEqual([{ pod: 'default/ok', address: '10.0.0.1', port: 8000 }]);
    const st = statuses.get('ModelServer/default/a')!;
    expect(st.readyEndpoints).toBe(1);
    expect(st.totalEndpoints).toBe(3);
    expect(st.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', message: '1/3 selected pods ready', observedGeneration: 2 });
  });

  it('orders routes oldest first and reports later routes for the same model as shadowed', () => {
    const objects: ObjectSet = {
      routes: [
        route('newer', '2026-02-01T00:00:00Z', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a' }] }] }),
        route('older', '2026-01-01T00:00:00Z', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a' }] }] }),
      ],
      servers: [server('a')],
      pods: [],
    };
    const { snapshot, statuses } = compileSnapshot(objects, cfg);
    expect(snapshot.routes.map((r) => r.key)).toEqual(['default/older', 'default/newer']);
    expect(statuses.get('ModelRoute/default/newer')!.conditions[0]!.message).toMatch(/also served by older route default\/older/);
  });

  it('keeps unresolved targets (marked) and explains them in ResolvedRefs', () => {
    const objects: ObjectSet = {
      routes: [route('r', '2026-01-01T00:00:00Z', { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 'a', weight: 70 }, { modelServerName: 'missing', weight: 30 }] }] })],
      servers: [server('a')],
      pods: [],
    };
    const { snapshot, statuses } = compileSnapshot(objects, cfg);
    expect(snapshot.routes[0]!.rules[0]!.targets).toEqual([
      { server: 'default/a', weight: 70, resolved: true },
      { server: 'default/missing', weight: 30, resolved: false },
    ]);
    const resolved = statuses.get('ModelRoute/default/r')!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    expect(resolved).toMatchObject({ status: 'False', reason: 'ModelServerNotFound', observedGeneration: 1 });
    expect(resolved.message).toContain('rules[0].targetModels[1]: ModelServer missing not found in namespace default');
  });

  it.each([
    [[], 'NoPodsSelected', /selects no pod/],
    [[pod('p', { app: 'a' }, '10.0.0.1', { ready: false })], 'NoReadyEndpoints', /0\/1 selected pods can take traffic/],
  ])('explains a server without endpoints (%#)', (pods, reason, message) => {
    const { statuses } = compileSnapshot({ routes: [], servers: [server('a')], pods }, cfg);
    const c = statuses.get('ModelServer/default/a')!.conditions[0]!;
    expect(c).toMatchObject({ status: 'False', reason });
    expect(c.message).toMatch(message);
  });

  it('classifies PD pods by role and group and reports incomplete groups', () => {
    const pd = { groupKey: 'group', prefillLabels: { role: 'P' }, decodeLabels: { role: 'D' } };
    const { snapshot, statuses } = compileSnapshot({
      routes: [],
      servers: [server('a', { workloadSelector: { matchLabels: { app: 'a' }, pdGroup: pd } })],
      pods: [pod('p1', { app: 'a', group: 'g1', role: 'P' }, '10.0.0.1'), pod('d1', { app: 'a', group: 'g1', role: 'D' }, '10.0.0.2'), pod('p2', { app: 'a', group: 'g2', role: 'P' }, '10.0.0.3')],
    }, cfg);
    expect(snapshot.servers[0]!.endpoints.map((e) => [e.pod, e.role, e.group])).toEqual([
      ['default/d1', 'decode', 'g1'], ['default/p1', 'prefill', 'g1'], ['default/p2', 'prefill', 'g2']]);
    expect(statuses.get('ModelServer/default/a')!.conditions[0]!.message).toMatch(/complete: g1; incomplete: g2 \(1 prefill, 0 decode\)/);
  });

  it('is deterministic: input order does not change the hash, and a change does', () => {
    const a = route('a', '2026-01-01T00:00:00Z', { modelName: 'a', rules: [{ targetModels: [{ modelServerName: 's' }] }] });
    const b = route('b', '2026-01-01T00:00:00Z', { modelName: 'b', rules: [{ targetModels: [{ modelServerName: 's' }] }] });
    const pods = [pod('p1', { app: 's' }, '10.0.0.1'), pod('p2', { app: 's' }, '10.0.0.2')];
    const one = compileSnapshot({ routes: [a, b], servers: [server('s')], pods }, cfg).snapshot;
    const two = compileSnapshot({ routes: [b, a], servers: [server('s')], pods: [...pods].reverse() }, { version: 9, generatedAt: 'later', routerConfigNamespace: 'default' }).snapshot;
    expect(two.hash).toBe(one.hash);
    const three = compileSnapshot({ routes: [a, b], servers: [server('s')], pods: pods.slice(0, 1) }, cfg).snapshot;
    expect(three.hash).not.toBe(one.hash);
  });

  it('compiles the seed 003 InferencePool: selector, port, annotations into its scheduler; routes may target it', () => {
    const docs = yaml.loadAll(readFileSync(join(__dirname, '..', '..', 'manifests', 'examples', 'inference-pool', 'vllm-app-pool.yaml'), 'utf8'));
    const [pool, r] = docs.map((d) => valid<never>(d));
    const { snapshot, statuses } = compileSnapshot({ routes: [r!], servers: [], pods: [pod('a', { app: 'vllm-app' }, '10.0.0.9')], inferencePools: [pool!] }, cfg);
    const srv = snapshot.servers.find((x) => x.key === 'default/vllm-app-pool')!;
    expect(srv.endpoints).toEqual([{ pod: 'default/a', address: '10.0.0.9', port: 8000 }]);
    const sched = snapshot.schedulers[srv.scheduler]!;
    expect(sched.source).toBe('inference-pool-annotations');
    expect(sched.profiles[0]!.scorers.map((x) => x.plugin)).toContain('prefix-cache-scorer');
    expect(snapshot.routes[0]!.rules[0]!.targets[0]).toEqual({ server: 'default/vllm-app-pool', weight: 100, resolved: true });
    expect(statuses.get('InferencePool/default/vllm-app-pool')!.conditions.map((c) => c.status)).toEqual(['True', 'True']);
    expect(validateSnapshot(snapshot)).toMatchObject({ ok: true });
  });

  it('produces snapshots the data plane accepts, with defaults resolved', () => {
    const { snapshot } = compileSnapshot({
      routes: [route('r', '2026-01-01T00:00:00Z', { modelName: 'm', loraAdapters: ['l1'], rules: [{ modelMatch: { headers: { 'User-Type': { exact: 'x' } } }, targetModels: [{ modelServerName: 'a' }] }] })],
      servers: [server('a', { trafficPolicy: { timeout: '1m30s' } })],
      pods: [pod('p', { app: 'a' }, '10.0.0.1')],
    }, cfg);
    expect(validateSnapshot(snapshot)).toMatchObject({ ok: true });
    expect(snapshot.routes[0]!.rules[0]!.headers[0]!.name).toBe('user-type');
    expect(snapshot.servers[0]).toMatchObject({ timeoutMs: 90_000, retry: { attempts: 1, intervalMs: 100 }, protocol: 'http' });
  });

  it.each([
    ['10m', 600_000, null],
    ['90s', 90_000, null],
    ['soon', undefined, /must be a positive duration such as 10m or 90s \(got "soon"\); requests have no total deadline until this is fixed/],
    ['0s', undefined, /must be a positive duration/],
  ] as const)('sluice.dev/request-deadline %s', (value, deadlineMs, problem) => {
    const s = server('a');
    s.metadata.annotations = { 'sluice.dev/request-deadline': value };
    const { snapshot, statuses } = compileSnapshot({ routes: [], servers: [s], pods: [pod('p', { app: 'a' }, '10.0.0.1')] }, cfg);
    expect(snapshot.servers[0]!.deadlineMs).toBe(deadlineMs);
    expect(validateSnapshot(snapshot)).toMatchObject({ ok: true });
    const cond = statuses.get('ModelServer/default/a')!.conditions.find((c) => c.type === 'DeadlineConfigured');
    if (problem) expect(cond).toMatchObject({ status: 'False', reason: 'InvalidAnnotation', message: expect.stringMatching(problem) });
    else expect(cond).toBeUndefined();
  });
});
