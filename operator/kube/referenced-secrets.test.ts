import { createLogger } from '../../shared/log/logger';
import { KubeError, type KubeClient } from './kube-rest';
import { ReferencedSecrets } from './referenced-secrets';

const log = createLogger('test', 'silent');

/** Secrets by path; a number answers that HTTP error. */
class FakeSecrets implements KubeClient {
  readonly answers = new Map<string, Record<string, unknown> | number>();
  readonly calls: string[] = [];
  async call<T>(method: string, path: string): Promise<T> {
    this.calls.push(`${method} ${path}`);
    const a = this.answers.get(path);
    if (a === undefined) throw new KubeError(404, `${path} not found`, "NotFound");
    if (typeof a === 'number') throw new KubeError(a, `${path}: ${a}`, undefined);
    return a as T;
  }
}

const path = (ns: string, name: string) => `/api/v1/namespaces/${ns}/secrets/${name}`;
const secret = (rv: string, key: string) => ({ metadata: { name: 'k', namespace: 'team-a', uid: 'u', resourceVersion: rv }, data: { apiKey: Buffer.from(key).toString('base64') } });

describe('ReferencedSecrets', () => {
  it('reads each named Secret by name, reports changes, and forgets Secrets no longer named', async () => {
    const api = new FakeSecrets();
    api.answers.set(path('team-a', 'k'), secret('1', 'sk-1'));
    let changes = 0;
    const wake: (() => void)[] = [];
    const refs = new ReferencedSecrets(api, log, () => { changes++; wake.shift()?.(); }, 60_000);
    const changed = () => new Promise<void>((r) => wake.push(r));
    let next = changed();
    refs.setWanted(new Set(['team-a/k', 'team-a/missing']));
    await next;
    expect(api.calls.sort()).toEqual([`GET ${path('team-a', 'k')}`, `GET ${path('team-a', 'missing')}`]);
    expect(refs.secrets().map((s) => [s.kind, s.metadata.resourceVersion])).toEqual([['Secret', '1']]);
    expect(refs.problems()).toEqual(new Map([['team-a/missing', 'Secret missing in namespace team-a not found']]));
    // The same set again reads nothing more.
    refs.setWanted(new Set(['team-a/k', 'team-a/missing']));
    expect(api.calls).toHaveLength(2);
    // Dropped from the set: forgotten.
    refs.setWanted(new Set(['team-a/k']));
    expect(refs.problems().size).toBe(0);
    expect(changes).toBe(1);
    // A namespace that did not grant `get`: the problem says how to grant it.
    api.answers.set(path('team-b', 'k'), 403);
    next = changed();
    refs.setWanted(new Set(['team-a/k', 'team-b/k']));
    await next;
    expect(refs.problems().get('team-b/k')).toMatch(/may not read Secret k in namespace team-b; grant it with a RoleBinding to the ClusterRole sluice-provider-secrets/);
    refs.stop();
  });

  it('polls, reporting a rotated Secret and keeping the last one through a failed read', async () => {
    const api = new FakeSecrets();
    api.answers.set(path('team-a', 'k'), secret('1', 'sk-1'));
    const wake: (() => void)[] = [];
    const refs = new ReferencedSecrets(api, log, () => wake.shift()?.(), 20);
    const changed = () => new Promise<void>((r) => wake.push(r));
    let next = changed();
    refs.setWanted(new Set(['team-a/k']));
    await next;
    api.answers.set(path('team-a', 'k'), 500);
    const before = api.calls.length;
    while (api.calls.length < before + 2) await new Promise((r) => setTimeout(r, 10));
    expect(refs.secrets()[0]!.metadata.resourceVersion).toBe('1');
    next = changed();
    api.answers.set(path('team-a', 'k'), secret('2', 'sk-2'));
    await next;
    expect(refs.secrets()[0]!.metadata.resourceVersion).toBe('2');
    refs.stop();
  });
});
