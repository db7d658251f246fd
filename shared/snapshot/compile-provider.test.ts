import type { Secret } from '../api/core-types';
import type { ExternalModelProvider } from '../api/external-provider';
import type { ModelRoute } from '../api/model-route';
import { validateObject } from '../api/validate';
import { compileSnapshot } from './compile';
import { statusKey } from './conditions';
import { validateSnapshot } from './validate-snapshot';

const valid = <T>(o: unknown): T => {
  const r = validateObject(o);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.object as T;
};
const G = 'networking.serving.volcano.sh/v1alpha1';
const provider = (name: string, spec: Record<string, unknown>) => valid<ExternalModelProvider>({ apiVersion: G, kind: 'ExternalModelProvider', metadata: { name, namespace: 'default', generation: 3 }, spec });
const secret = (name: string, data: Record<string, string>, meta: Record<string, unknown> = {}) => valid<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default', ...meta }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });
const route = (targetModels: unknown[]) => valid<ModelRoute>({ apiVersion: G, kind: 'ModelRoute', metadata: { name: 'r', namespace: 'default', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { modelName: 'deepseek', rules: [{ targetModels }] } });
const cfg = { version: 1, generatedAt: '2026-01-01T00:00:00Z', routerConfigNamespace: 'default' };
const deepseek = { model: 'deepseek-chat', baseURL: 'https://api.deepseek.com/v1/', headers: { 'OpenAI-Organization': 'org-1' }, auth: { secretRef: { name: 'ds-key', key: 'apiKey' } } };

describe('compiling ExternalModelProviders', () => {
  it('puts the provider in the snapshot without the key, and the key in the credentials beside it', () => {
    const r = compileSnapshot({ routes: [route([{ externalModelProviderName: 'ds' }])], servers: [], pods: [], externalProviders: [provider('ds', deepseek)], secrets: [secret('ds-key', { apiKey: 'sk-live-1234\n' })] }, cfg);
    expect(validateSnapshot(JSON.parse(JSON.stringify(r.snapshot))).ok).toBe(true);
    const p = r.snapshot.providers![0]!;
    expect(p).toMatchObject({ key: 'default/ds', type: 'OpenAI', baseURL: 'https://api.deepseek.com/v1', model: 'deepseek-chat', insecureSkipVerify: false, headers: { 'openai-organization': 'org-1' }, credential: { secret: 'default/ds-key', key: 'apiKey' } });
    expect(JSON.stringify(r.snapshot)).not.toContain('sk-live');
    // The trailing newline of `echo key | base64` is not part of the key.
    expect(r.credentials).toEqual([{ version: p.credential!.version, value: 'sk-live-1234' }]);
    expect(r.snapshot.routes[0]!.rules[0]!.targets).toEqual([{ server: 'default/ds', external: true, weight: 100, resolved: true }]);
    const st = r.statuses.get(statusKey('ExternalModelProvider', 'default', 'ds'))!;
    expect(st.conditions.map((c) => [c.type, c.status, c.observedGeneration])).toEqual([['Accepted', 'True', 3], ['Ready', 'True', 3], ['CredentialsResolved', 'True', 3]]);
    expect(r.statuses.get(statusKey('ModelRoute', 'default', 'r'))!.conditions[1]).toMatchObject({ type: 'ResolvedRefs', status: 'True' });
  });

  it('versions a cluster Secret by its identity and resourceVersion, not its value', () => {
    const objects = (rv: string, value: string) => ({ routes: [], servers: [], pods: [], externalProviders: [provider('ds', deepseek)], secrets: [secret('ds-key', { apiKey: value }, { uid: 'u1', resourceVersion: rv })] });
    const a = compileSnapshot(objects('10', 'k1'), cfg).snapshot.providers![0]!.credential!.version;
    expect(compileSnapshot(objects('10', 'k2'), cfg).snapshot.providers![0]!.credential!.version).toBe(a);
    const b = compileSnapshot(objects('11', 'k1'), cfg);
    expect(b.snapshot.providers![0]!.credential!.version).not.toBe(a);
    expect(b.snapshot.hash).not.toBe(compileSnapshot(objects('10', 'k1'), cfg).snapshot.hash);
  });

  it.each([
    ['no Secret', [], /Secret ds-key in namespace default not found; create it with the API key under key apiKey/],
    ['no such key', [secret('ds-key', { other: 'x' })], /Secret ds-key in namespace default has no key apiKey; add it or fix auth.secretRef.key/],
    ['an empty key', [secret('ds-key', { apiKey: ' \n' })], /key apiKey is empty/],
  ])('marks a provider with %s unavailable, with a condition saying what to do', (_what, secrets, message) => {
    const r = compileSnapshot({ routes: [route([{ externalModelProviderName: 'ds' }])], servers: [], pods: [], externalProviders: [provider('ds', deepseek)], secrets }, cfg);
    const p = r.snapshot.providers![0]!;
    expect(p.credential).toBeUndefined();
    expect(p.unavailable).toMatch(message);
    expect(r.credentials).toEqual([]);
    const st = r.statuses.get(statusKey('ExternalModelProvider', 'default', 'ds'))!;
    expect(st.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialNotFound' });
    expect(st.conditions.find((c) => c.type === 'CredentialsResolved')).toMatchObject({ status: 'False', message: expect.stringMatching(/503/) });
    expect(r.statuses.get(statusKey('ModelRoute', 'default', 'r'))!.conditions[1]!.message).toMatch(/ExternalModelProvider ds has no usable credential yet/);
  });

  it('sends no credential for a provider without auth', () => {
    const r = compileSnapshot({ routes: [], servers: [], pods: [], externalProviders: [provider('mock', { baseURL: 'http://127.0.0.1:9000/v1', allowInsecure: true })] }, cfg);
    expect(r.snapshot.providers![0]!.credential).toBeUndefined();
    expect(r.snapshot.providers![0]!.unavailable).toBeUndefined();
    expect(r.credentials).toEqual([]);
  });

  it('reports a provider that does not exist in the route\'s ResolvedRefs', () => {
    const r = compileSnapshot({ routes: [route([{ externalModelProviderName: 'nope' }])], servers: [], pods: [] }, cfg);
    expect(r.snapshot.providers).toBeUndefined();
    expect(r.snapshot.routes[0]!.rules[0]!.targets[0]).toEqual({ server: 'default/nope', external: true, weight: 100, resolved: false });
    expect(r.statuses.get(statusKey('ModelRoute', 'default', 'r'))!.conditions[1]).toMatchObject({ status: 'False', reason: 'ExternalModelProviderNotFound', message: expect.stringMatching(/ExternalModelProvider nope not found in namespace default; create it or fix externalModelProviderName/) });
    expect(validateSnapshot(JSON.parse(JSON.stringify(r.snapshot))).ok).toBe(true);
  });
});
