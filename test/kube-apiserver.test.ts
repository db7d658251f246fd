/**
 * The real-Kubernetes test harness itself: etcd + kube-apiserver built by hack/kube/build.sh,
 * driven with the real kubectl. Skipped with a hint when the binaries are missing, failed instead
 * under SLUICE_REQUIRE_ALL_TESTS=1 (CI).
 */
import { startKubeApiserver, type KubeApi } from './helpers/kube-apiserver';
import { waitFor } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when kube is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { test, beforeAll, afterAll } = testsNeeding('kube');

jest.setTimeout(180_000);

const VIEWER = { token: 'viewer-token-0123456789', user: 'nobody-in-particular', groups: ['sluice-test:viewers'] };

let kube: KubeApi;

beforeAll(async () => {
  kube = await startKubeApiserver({ tokens: [VIEWER] });
});

afterAll(async () => {
  await kube?.stop();
});

/** Runs kubectl as the admin and fails with its output unless it exits 0. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await kube.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}\n${kube.logs(20)}`);
  return r.stdout;
}

test('kubectl lists the system namespaces, and client and server are 1.35', async () => {
  const names = (await ok(['get', 'ns', '-o', 'name'])).trim().split('\n');
  expect(names).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
  const version = JSON.parse(await ok(['version', '-o', 'json']));
  expect(version.clientVersion.gitVersion).toMatch(/^v1\.35\./);
  expect(version.serverVersion.gitVersion).toMatch(/^v1\.35\./);
});

test('kubectl apply stores a ConfigMap that can be read back', async () => {
  const manifest = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: sluice-harness',
    '  namespace: default',
    'data:',
    '  greeting: hello',
    '',
  ].join('\n');
  expect(await ok(['apply', '-f', '-'], manifest)).toMatch(/configmap\/sluice-harness (created|configured)/);
  const cm = JSON.parse(await ok(['get', 'configmap', 'sluice-harness', '-o', 'json']));
  expect(cm.data).toEqual({ greeting: 'hello' });
  expect(cm.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
});

test('RBAC is enforced: a user with no bindings is Forbidden until granted', async () => {
  const viewer = kube.writeKubeconfig(VIEWER.token, 'viewer');
  const denied = await kube.kubectl(['get', 'pods'], { kubeconfig: viewer });
  expect(denied.code).not.toBe(0);
  expect(denied.stderr).toMatch(/Forbidden/);
  expect(denied.stderr).toContain(`User "${VIEWER.user}" cannot list resource "pods"`);

  // A token nobody issued is not authenticated at all.
  const stranger = await kube.kubectl(['get', 'pods'], { kubeconfig: kube.writeKubeconfig('not-a-real-token', 'stranger') });
  expect(stranger.code).not.toBe(0);
  expect(stranger.stderr).toMatch(/Unauthorized|must be logged in/);

  // Granting the group read access in one namespace works. (Not with the built-in `view`
  // ClusterRole: it is aggregated, and the controller manager that fills in its rules is absent.)
  await ok(['create', 'role', 'reader', '--verb=get,list,watch', '--resource=pods,configmaps', '-n', 'default']);
  await ok(['create', 'rolebinding', 'viewers', '--role=reader', `--group=${VIEWER.groups[0]}`, '-n', 'default']);
  // The authorizer reads RBAC objects through an informer: the binding takes effect shortly after.
  const allowed = await waitFor('the viewer to be allowed', async () => {
    const r = await kube.kubectl(['get', 'pods'], { kubeconfig: viewer });
    return r.code === 0 ? r : undefined;
  });
  expect(allowed.stderr).toMatch(/No resources found in default namespace/);
  // ... and only there.
  const elsewhere = await kube.kubectl(['get', 'pods', '-n', 'kube-system'], { kubeconfig: viewer });
  expect(elsewhere.stderr).toMatch(/Forbidden/);
});

test('kubectl auth can-i answers for the admin, the viewer and by impersonation', async () => {
  const viewer = kube.writeKubeconfig(VIEWER.token, 'viewer-can-i');
  expect((await ok(['auth', 'can-i', 'create', 'deployments', '--all-namespaces'])).trim()).toBe('yes');
  const can = async (args: string[], kubeconfig?: string) => {
    const r = await kube.kubectl(['auth', 'can-i', ...args], { kubeconfig });
    return r.stdout.trim();
  };
  expect(await can(['list', 'configmaps', '-n', 'default'], viewer)).toBe('yes');
  expect(await can(['delete', 'configmaps', '-n', 'default'], viewer)).toBe('no');
  expect(await can(['list', 'secrets', '-n', 'default'], viewer)).toBe('no');
  expect(await can(['list', 'pods', '-n', 'kube-system', `--as=${VIEWER.user}`, `--as-group=${VIEWER.groups[0]}`])).toBe('no');
});

test('service-account tokens are issued and accepted', async () => {
  await ok(['create', 'serviceaccount', 'sluice-operator', '-n', 'default']);
  const token = (await ok(['create', 'token', 'sluice-operator', '-n', 'default', '--duration=10m'])).trim();
  expect(token.split('.')).toHaveLength(3);
  const r = await kube.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: kube.writeKubeconfig(token, 'sa') });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).status.userInfo.username).toBe('system:serviceaccount:default:sluice-operator');
});
