import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigSource } from './kube-config-source';

const home = mkdtempSync(join(tmpdir(), 'sluice-home-'));
const empty = mkdtempSync(join(tmpdir(), 'sluice-home-'));
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});
mkdirSync(join(home, '.kube'));
const config = (server: string, ctx: string) => JSON.stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': ctx,
  clusters: [{ name: ctx, cluster: { server } }], users: [{ name: ctx, user: { token: 't' } }],
  contexts: [{ name: ctx, context: { cluster: ctx, user: ctx } }],
});
writeFileSync(join(home, '.kube', 'config'), config('https://home.example:6443', 'home'));
const a = join(home, 'a.json');
const b = join(home, 'b.json');
writeFileSync(a, config('https://a.example:6443', 'a'));
writeFileSync(b, config('https://b.example:6443', 'b'));
const IN_CLUSTER = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('kubeConfigSource picks credentials as kubectl does', () => {
  it.each([
    ['--kubeconfig wins over everything', a, { KUBECONFIG: b, ...IN_CLUSTER }, home, { kind: 'files', files: [a], from: '--kubeconfig' }],
    ['then $KUBECONFIG, a list', null, { KUBECONFIG: `${a}:${b}`, ...IN_CLUSTER }, home, { kind: 'files', files: [a, b], from: 'KUBECONFIG' }],
    ['then the service account in a pod', null, { KUBECONFIG: '', ...IN_CLUSTER }, home, { kind: 'in-cluster' }],
    ['then ~/.kube/config', null, {}, home, { kind: 'files', files: [join(home, '.kube', 'config')], from: '~/.kube/config' }],
  ] as const)('%s', (_, path, env, h, want) => {
    expect(kubeConfigSource(path, env, h)).toEqual(want);
  });

  it('refuses, naming every way to give credentials, when there are none (no https://undefined:undefined)', () => {
    expect(() => kubeConfigSource(null, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, empty)).toThrow(/--kubeconfig.*KUBECONFIG.*KUBERNETES_SERVICE_HOST.*~\/\.kube\/config/);
  });
});
