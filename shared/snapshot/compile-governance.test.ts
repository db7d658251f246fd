import type { ConfigMap } from '../api/core-types';
import type { ModelRoute } from '../api/model-route';
import type { ModelServer } from '../api/model-server';
import { validateObject } from '../api/validate';
import { compileSnapshot } from './compile';
import { validateSnapshot } from './validate-snapshot';
import { RoutingSnapshot } from './schema';

const valid = <T>(o: unknown): T => {
  const r = validateObject(o);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.object as T;
};
const server = (name: string, annotations: Record<string, string> = {}) => valid<ModelServer>({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelServer', metadata: { name, namespace: 'default', annotations },
  spec: { inferenceEngine: 'vLLM', model: 'm', workloadSelector: { matchLabels: { app: name } } },
});
const route = (rateLimit: Record<string, unknown>) => valid<ModelRoute>({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name: 'r', namespace: 'default' },
  spec: { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 's' }] }], rateLimit },
});
const routerConfig = (text: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sluice-router-config', namespace: 'sluice-system' }, data: { routerConfiguration: text } });
const tenantConfig = (name: string, namespace: string, text: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { routerConfiguration: text } });
const cfg = { version: 1, generatedAt: '2026-01-01T00:00:00Z', routerConfigNamespace: 'sluice-system' };

describe('compileSnapshot: rate limits, queues and router policy', () => {
  it('compiles Kthena\'s global rate limit with Sluice defaults (per route, fail open)', () => {
    const { snapshot } = compileSnapshot({ routes: [route({ inputTokensPerUnit: 10, outputTokensPerUnit: 5000, unit: 'minute', global: { redis: { address: 'redis-server.kthena-system.svc.cluster.local:6379' } } })], servers: [server('s')], pods: [] }, cfg);
    expect(snapshot.routes[0]!.rateLimit).toEqual({
      inputTokensPerUnit: 10, outputTokensPerUnit: 5000, unit: 'minute', per: 'route', tiers: {},
      redis: { address: 'redis-server.kthena-system.svc.cluster.local:6379', failureMode: 'open' },
    });
    expect(validateSnapshot(snapshot).ok).toBe(true);
  });

  it('compiles per-user limits with tier overrides', () => {
    const { snapshot } = compileSnapshot({ routes: [route({ inputTokensPerUnit: 100, unit: 'second', per: 'user', tiers: { premium: { inputTokensPerUnit: 1000 } } })], servers: [server('s')], pods: [] }, cfg);
    expect(snapshot.routes[0]!.rateLimit).toEqual({ inputTokensPerUnit: 100, unit: 'second', per: 'user', tiers: { premium: { inputTokensPerUnit: 1000 } } });
  });

  it.each([
    ['tiers with per route', { inputTokensPerUnit: 1, tiers: { a: { inputTokensPerUnit: 2 } } }, 'spec.rateLimit.tiers'],
    ['no limit at all', { unit: 'minute' }, 'spec.rateLimit'],
    ['bad Redis address', { inputTokensPerUnit: 1, global: { redis: { address: 'redis' } } }, 'spec.rateLimit.global.redis.address'],
    ['global without redis', { inputTokensPerUnit: 1, global: { failureMode: 'closed' } }, 'spec.rateLimit.global'],
  ])('refuses %s at its field', (_name, rateLimit, path) => {
    const r = validateObject({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name: 'r' }, spec: { modelName: 'm', rules: [{ targetModels: [{ modelServerName: 's' }] }], rateLimit } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.path)).toContain(path);
  });

  it('turns queue annotations into server queue settings and a QueueConfigured condition', () => {
    const { snapshot, statuses } = compileSnapshot({ routes: [], pods: [], servers: [
      server('q', { 'inference.networking.x-k8s.io/queueing': 'enabled', 'inference-epp-env.networking.x-k8s.io/queue-ttl': '5s', 'sluice.dev/max-in-flight-per-endpoint': '4' }),
      server('bad', { 'inference.networking.x-k8s.io/queueing': 'enabled', 'sluice.dev/queue-max-requests': 'lots' }),
      server('plain'),
    ] }, cfg);
    const byKey = new Map(snapshot.servers.map((s) => [s.key, s]));
    expect(byKey.get('default/q')!.queue).toEqual({ maxBytes: 104857600, maxRequests: 10000, ttlMs: 5000, maxInFlightPerEndpoint: 4 });
    expect(byKey.get('default/bad')!.queue).toBeUndefined();
    expect(byKey.get('default/plain')!.queue).toBeUndefined();
    expect(statuses.get('ModelServer/default/q')!.conditions.find((c) => c.type === 'QueueConfigured')).toMatchObject({ status: 'True' });
    expect(statuses.get('ModelServer/default/bad')!.conditions.find((c) => c.type === 'QueueConfigured')).toMatchObject({
      status: 'False', reason: 'InvalidAnnotations', message: expect.stringContaining('metadata.annotations["sluice.dev/queue-max-requests"]'),
    });
    expect(statuses.get('ModelServer/default/plain')!.conditions.map((c) => c.type)).not.toContain('QueueConfigured');
  });

  it('carries the router policy, and keeps the last good one while the router ConfigMap is broken', () => {
    const good = compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps: [routerConfig('auth:\n  apiKeys: {file: /k/keys.yaml}\nfairness:\n  window: 30s\n')] }, cfg);
    expect(good.snapshot.auth).toEqual({ apiKeys: { file: '/k/keys.yaml' } });
    expect(good.snapshot.fairness).toMatchObject({ windowMs: 30_000 });
    const lastGoodPolicy = { auth: good.snapshot.auth!, fairness: good.snapshot.fairness! };
    const broken = compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps: [routerConfig('auth:\n  apiKeys: {file: relative}\n')] }, { ...cfg, lastGoodPolicy });
    expect(broken.snapshot.auth).toEqual({ apiKeys: { file: '/k/keys.yaml' } });
    expect(broken.schedulerIssues[0]!.issues[0]).toMatchObject({ path: 'data.routerConfiguration: auth.apiKeys' });
    const removed = compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps: [] }, { ...cfg, lastGoodPolicy });
    expect(removed.snapshot.auth).toBeUndefined();
  });

  // Hardening defect 1: a tenant's ConfigMap named like the router's, in a namespace that sorts
  // before the operator's, used to replace the router-wide config and switch auth off.
  it.each(['kthena-router-config', 'sluice-router-config'])('ignores %s outside the router namespace, whatever the input order, and says why', (name) => {
    const real = routerConfig('auth:\n  apiKeys: {file: /k/keys.yaml}\n');
    const rogue = tenantConfig(name, 'aaa-tenant', 'identity:\n  userHeader: x-evil\n');
    for (const configMaps of [[rogue, real], [real, rogue]]) {
      const { snapshot, schedulerIssues } = compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps }, cfg);
      expect(snapshot.auth).toEqual({ apiKeys: { file: '/k/keys.yaml' } });
      expect(snapshot.identity).toBeUndefined();
      expect(snapshot.servers[0]!.scheduler).toBe('sluice-system/sluice-router-config');
      const issue = schedulerIssues.find((i) => i.object === `ConfigMap aaa-tenant/${name}`);
      expect(issue?.issues[0]).toMatchObject({ path: 'metadata.namespace', message: expect.stringContaining('read only from namespace sluice-system') });
    }
  });

  it('takes no router-wide settings at all when the only router ConfigMap is in a tenant namespace', () => {
    const { snapshot, schedulerIssues } = compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps: [tenantConfig('sluice-router-config', 'default', 'identity:\n  userHeader: x-evil\n')] }, cfg);
    expect(snapshot.identity).toBeUndefined();
    expect(snapshot.servers[0]!.scheduler).toBe('default');
    expect(schedulerIssues.map((i) => i.object)).toEqual(['ConfigMap default/sluice-router-config']);
  });

  it('hashes the router policy: a fairness-only change is a new snapshot', () => {
    const at = (text: string) => compileSnapshot({ routes: [], servers: [server('s')], pods: [], configMaps: [routerConfig(text)] }, cfg).snapshot.hash;
    expect(at('fairness:\n  inputTokenWeight: 0\n')).not.toBe(at('fairness:\n  inputTokenWeight: 1\n'));
    expect(at('identity:\n  userHeader: x-a\n')).not.toBe(at('identity:\n  userHeader: x-b\n'));
  });

  it('hashes every content field of the snapshot schema', () => {
    // A field added to the schema but not to the hash would change without a new version.
    const meta = new Set(['apiVersion', 'kind', 'version', 'hash', 'generatedAt']);
    const content = Object.keys(RoutingSnapshot.properties).filter((k) => !meta.has(k)).sort();
    expect(content).toEqual(['auth', 'fairness', 'identity', 'providers', 'routes', 'schedulers', 'servers']);
  });

  it('turns lora-load annotations into loraLoad and an AdaptersConfigured condition', () => {
    const { snapshot, statuses } = compileSnapshot({ routes: [], pods: [], servers: [
      server('on', { 'sluice.dev/lora-load': 'enabled', 'sluice.dev/lora-path-template': '/m/{name}' }),
      server('bad', { 'sluice.dev/lora-load': 'enabled', 'sluice.dev/lora-path-template': '/m/fixed' }),
    ] }, cfg);
    const byKey = new Map(snapshot.servers.map((s) => [s.key, s]));
    expect(byKey.get('default/on')!.loraLoad).toEqual({ pathTemplate: '/m/{name}' });
    expect(byKey.get('default/bad')!.loraLoad).toBeUndefined();
    expect(statuses.get('ModelServer/default/bad')!.conditions.find((c) => c.type === 'AdaptersConfigured')).toMatchObject({ status: 'False', message: expect.stringContaining('must contain {name}') });
  });
});
