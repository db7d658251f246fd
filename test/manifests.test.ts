/**
 * The install manifests (manifests/base) against a real kube-apiserver with the real kubectl:
 * they render, apply with strict server-side validation, the CRDs become Established, the pod
 * templates pass the restricted Pod Security Standard, the flags and mounts fit together, the
 * operator's RBAC is what it needs and no more (asked of the API server with the ServiceAccount's
 * own token, and tried for real), the real operator runs with the Deployment's arguments and that
 * token without a Forbidden, the data plane has no permissions, and the printer columns show.
 *
 * One API server for the file, and the tests build on each other in order, as an install does:
 * apply first, then RBAC, then objects, then the operator.
 */
import yaml from 'js-yaml';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { allCrds } from '../shared/api/crd';
import { defaultSchedulerConfig, schedulerConfigFromConfigMap } from '../shared/config/scheduler-config-source';
import { startKubeApiserver, type KubeApi } from './helpers/kube-apiserver';
import { ROOT, startNode, stopAll, tempDir, waitFor } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when kube is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll } = testsNeeding('kube');

jest.setTimeout(180_000);

const NS = 'sluice-system';
const BASE = join(ROOT, 'manifests', 'base');
const QUICKSTART = join(ROOT, 'manifests', 'examples', 'quickstart');
const GROUP = 'networking.serving.volcano.sh';
const OPERATOR_SA = `system:serviceaccount:${NS}:sluice-operator`;

/** The loosely typed Kubernetes object the assertions walk. */
type Obj = Record<string, any>;

let kube: KubeApi;

beforeAll(async () => {
  kube = await startKubeApiserver();
});

afterAll(async () => {
  await stopAll();
  await kube?.stop();
});

/** Runs kubectl (as the admin unless `kubeconfig` is given) and fails with its output unless it exits 0. */
async function ok(args: string[], input?: string, kubeconfig?: string): Promise<string> {
  const r = await kube.kubectl(args, { input, kubeconfig });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}\n${kube.logs(20)}`);
  return r.stdout;
}

const getJson = async (args: string[]): Promise<Obj> => JSON.parse(await ok(['get', ...args, '-o', 'json']));

/** The value after `flag` in a container's args. */
function flag(container: Obj, name: string): string {
  const args: string[] = container.args;
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`${container.name} has no ${name} <value> in ${JSON.stringify(args)}`);
  return args[i + 1]!;
}

/** The volume mounted at `dir` in the container, looked up in the pod spec. */
function volumeAt(podSpec: Obj, container: Obj, dir: string): Obj {
  const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === dir);
  if (!mount) throw new Error(`${container.name}: nothing is mounted at ${dir}`);
  return (podSpec.volumes as Obj[]).find((v) => v.name === mount.name)!;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('manifests/base', () => {
  const expected = [
    'Namespace /sluice-system',
    `CustomResourceDefinition /modelroutes.${GROUP}`,
    `CustomResourceDefinition /modelservers.${GROUP}`,
    `CustomResourceDefinition /externalmodelproviders.${GROUP}`,
    'ServiceAccount sluice-system/sluice-operator',
    'ClusterRole /sluice-operator',
    'ClusterRole /sluice-provider-secrets',
    'ClusterRoleBinding /sluice-operator',
    'Role sluice-system/sluice-operator',
    'RoleBinding sluice-system/sluice-operator',
    'Deployment sluice-system/sluice-operator',
    'ServiceAccount sluice-system/sluice-dataplane',
    'Deployment sluice-system/sluice-dataplane',
    'Service sluice-system/sluice',
    'PodDisruptionBudget sluice-system/sluice-dataplane',
    'ConfigMap sluice-system/sluice-router-config',
    'NetworkPolicy sluice-system/sluice-dataplane',
    'NetworkPolicy sluice-system/sluice-operator',
  ].sort();

  it('renders with kubectl kustomize: these objects, no Secret, and the CRDs exactly as generated in crds/', async () => {
    const objects = yaml.loadAll(await ok(['kustomize', BASE])) as Obj[];
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort()).toEqual(expected);
    const generated = Object.values(allCrds()) as Obj[];
    for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
      const { labels, ...metadata } = crd.metadata;
      expect(labels).toEqual({ 'app.kubernetes.io/part-of': 'sluice' });
      expect({ ...crd, metadata }).toEqual(generated.find((g) => g.metadata.name === crd.metadata.name));
    }
  });

  it('leaves `kubectl apply -f crds/` applying only the CRDs (crds/Kustomization is not a *.yaml)', async () => {
    expect(readdirSync(join(ROOT, 'crds'))).toContain('Kustomization');
    const out = await ok(['apply', '-f', join(ROOT, 'crds'), '--dry-run=server']);
    expect(out.trim().split('\n').sort()).toEqual([
      `customresourcedefinition.apiextensions.k8s.io/externalmodelproviders.${GROUP} created (server dry run)`,
      `customresourcedefinition.apiextensions.k8s.io/modelroutes.${GROUP} created (server dry run)`,
      `customresourcedefinition.apiextensions.k8s.io/modelservers.${GROUP} created (server dry run)`,
    ]);
  });

  it('applies with `kubectl apply -k` under strict validation; the CRDs become Established and every object exists', async () => {
    const applied = await kube.kubectl(['apply', '-k', BASE, '--validate=strict']);
    // No error and no warning (deprecated API, unknown or duplicate field).
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect(applied.stdout.trim().split('\n')).toHaveLength(expected.length);
    expect(applied.stdout).not.toMatch(/unchanged|configured/);
    // Step 2 of manifests/README.md.
    await ok(['-n', NS, 'create', 'secret', 'generic', 'sluice-push-token', '--from-literal=token=0123456789abcdef0123456789abcdef']);
    await ok(['-n', NS, 'create', 'secret', 'generic', 'sluice-read-token', '--from-literal=token=fedcba9876543210fedcba9876543210']);
    const established = await ok(['wait', '--for=condition=Established', '--timeout=60s', `crd/modelroutes.${GROUP}`, `crd/modelservers.${GROUP}`]);
    expect(established.match(/condition met/g)).toHaveLength(2);
    expect((await ok(['get', '-k', BASE, '-o', 'name'])).trim().split('\n')).toHaveLength(expected.length);
    // Applying again would change nothing: no field the server rewrites or defaults differently.
    // (`kubectl diff`, not a second apply: apply always re-sends a PodDisruptionBudget's selector,
    // whose patch strategy is replace, and reports it "configured" though nothing changes.)
    const diff = await kube.kubectl(['diff', '-k', BASE]);
    expect([diff.code, diff.stdout, diff.stderr]).toEqual([0, '', '']);
  });

  it('runs both pod templates under the restricted Pod Security Standard that sluice-system enforces', async () => {
    // A bare pod is refused there, so the namespace really enforces it...
    const bare = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: NS }, spec: { containers: [{ name: 'c', image: 'x' }] } }),
    });
    expect(bare.stderr).toContain('violates PodSecurity "restricted:latest"');
    // ... and pods made from the templates are admitted.
    for (const name of ['sluice-operator', 'sluice-dataplane']) {
      const d = await getJson(['-n', NS, 'deployment', name]);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-pss`, namespace: NS, labels: d.spec.template.metadata.labels }, spec: d.spec.template.spec };
      expect(await ok(['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod))).toContain(`pod/${name}-pss created (server dry run)`);
      // What the restricted standard does not require, but these containers should have.
      for (const c of d.spec.template.spec.containers as Obj[]) {
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('wires flags, mounts, selectors and ports together', async () => {
    const op = await getJson(['-n', NS, 'deployment', 'sluice-operator']);
    const dp = await getJson(['-n', NS, 'deployment', 'sluice-dataplane']);
    const opPod = op.spec.template.spec;
    const dpPod = dp.spec.template.spec;
    const opC = opPod.containers[0];
    const dpC = dpPod.containers[0];

    expect(opC.command).toEqual(['node', 'dist/operator/main.js']);
    expect(opC.args).toContain('--kube');
    expect(dpC.command).toEqual(['node', 'dist/dataplane/main.js']);
    expect(opPod.serviceAccountName).toBe('sluice-operator');
    expect(dpPod.serviceAccountName).toBe('sluice-dataplane');

    // --namespace is the pod's own namespace, through the downward API.
    expect(flag(opC, '--namespace')).toBe('$(POD_NAMESPACE)');
    expect(opC.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } });
    // The leader-election identity is the pod name (operator/kube/leader-election.ts reads POD_NAME).
    expect(opC.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } });

    // Both read the push token from the Secret of README step 2.
    for (const [pod, c] of [[opPod, opC], [dpPod, dpC]] as const) {
      const file = flag(c, '--push-token-file');
      expect(file.endsWith('/token')).toBe(true);
      expect(volumeAt(pod, c, dirname(file)).secret).toMatchObject({ secretName: 'sluice-push-token' });
    }
    // The data plane's read token (dumps, full snapshot) is a Secret of its own, also from step 2.
    expect(volumeAt(dpPod, dpC, dirname(flag(dpC, '--read-token-file'))).secret).toMatchObject({ secretName: 'sluice-read-token' });

    // The data plane reads the snapshot ConfigMap that the operator's Role lets it write.
    const snapshotVolume = volumeAt(dpPod, dpC, dirname(flag(dpC, '--snapshot-file')));
    expect(snapshotVolume.configMap).toMatchObject({ name: 'sluice-snapshot', optional: true });
    const role = await getJson(['-n', NS, 'role', 'sluice-operator']);
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['configmaps'], resourceNames: ['sluice-snapshot'], verbs: ['get', 'update', 'patch'] });

    // The operator's --dataplane-selector, the Service and the PDB all select the data-plane pods, and not the operator.
    const dpLabels = dp.spec.template.metadata.labels;
    const [key, value] = flag(opC, '--dataplane-selector').split('=');
    const selectors = {
      '--dataplane-selector': { [key!]: value! },
      service: (await getJson(['-n', NS, 'service', 'sluice'])).spec.selector,
      pdb: (await getJson(['-n', NS, 'pdb', 'sluice-dataplane'])).spec.selector.matchLabels,
    };
    for (const [what, selector] of Object.entries(selectors)) {
      expect([what, matches(selector, dpLabels)]).toEqual([what, true]);
      expect([what, matches(selector, op.spec.template.metadata.labels)]).toEqual([what, false]);
    }

    // Ports: Service 80 → the named port http, which is the --listen port and the probes' port;
    // the admin port the operator pushes to is --admin on all interfaces.
    const ports = Object.fromEntries((dpC.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ http: 8080, admin: 8081 });
    expect(flag(dpC, '--listen')).toBe(`0.0.0.0:${ports.http}`);
    expect(flag(dpC, '--admin')).toBe(`0.0.0.0:${ports.admin}`);
    const service = await getJson(['-n', NS, 'service', 'sluice']);
    expect(service.spec.ports).toEqual([expect.objectContaining({ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' })]);
    expect(dpC.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(dpC.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });

    // NetworkPolicy: the traffic port open to all, the admin port only to the operator's pods (in
    // this namespace) and Prometheus in monitoring; nothing may connect to the operator.
    const np = await getJson(['-n', NS, 'networkpolicy', 'sluice-dataplane']);
    expect(matches(np.spec.podSelector.matchLabels, dpLabels)).toBe(true);
    expect(matches(np.spec.podSelector.matchLabels, op.spec.template.metadata.labels)).toBe(false);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    const [trafficRule, adminRule, ...more] = np.spec.ingress as Obj[];
    expect(more).toEqual([]);
    expect(trafficRule).toEqual({ ports: [{ port: 'http', protocol: 'TCP' }] });
    expect(adminRule!.ports).toEqual([{ port: 'admin', protocol: 'TCP' }]);
    const [operatorPeer, prometheusPeer, ...otherPeers] = adminRule!.from as Obj[];
    expect(otherPeers).toEqual([]);
    expect(operatorPeer!.namespaceSelector).toBeUndefined();
    expect(matches(operatorPeer!.podSelector.matchLabels, op.spec.template.metadata.labels)).toBe(true);
    expect(matches(operatorPeer!.podSelector.matchLabels, dpLabels)).toBe(false);
    expect(prometheusPeer).toEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    });
    const opNp = await getJson(['-n', NS, 'networkpolicy', 'sluice-operator']);
    expect(matches(opNp.spec.podSelector.matchLabels, op.spec.template.metadata.labels)).toBe(true);
    expect([opNp.spec.policyTypes, opNp.spec.ingress ?? []]).toEqual([['Ingress'], []]);

    expect(dp.spec.replicas).toBe(2);
    expect((await getJson(['-n', NS, 'pdb', 'sluice-dataplane'])).spec.minAvailable).toBe(1);
  });

  it('ships sluice-router-config as exactly the built-in default scheduler configuration', async () => {
    const cm = await getJson(['-n', NS, 'configmap', 'sluice-router-config']);
    const parsed = schedulerConfigFromConfigMap(cm as Parameters<typeof schedulerConfigFromConfigMap>[0]);
    if ('issues' in parsed) throw new Error(`sluice-router-config is refused: ${JSON.stringify(parsed.issues)}`);
    expect(parsed.config).toEqual({ ...defaultSchedulerConfig(), source: 'endpoint-picker', origin: `ConfigMap ${NS}/sluice-router-config key endpointPickerConfig` });
  });
});

describe('RBAC', () => {
  let operator: string;
  let dataplane: string;

  beforeAll(async () => {
    // Tokens the API server issues for the ServiceAccounts, as the kubelet would mount them.
    const token = async (sa: string) => (await ok(['-n', NS, 'create', 'token', sa, '--duration=10m'])).trim();
    operator = kube.writeKubeconfig(await token('sluice-operator'), 'sluice-operator');
    dataplane = kube.writeKubeconfig(await token('sluice-dataplane'), 'sluice-dataplane');
    await ok(['create', 'namespace', 'team-a']);
  });

  interface Access { verb: string; resource: string; group?: string; subresource?: string; namespace?: string; name?: string }

  /** Asks the API server whether the holder of `kubeconfig` may do `a` (a SelfSubjectAccessReview, what `kubectl auth can-i` sends). */
  async function canI(kubeconfig: string, a: Access): Promise<boolean> {
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { group: '', ...a } } };
    // --validate=false: kubectl's field validation would first list CRDs, which these identities may not.
    const out = JSON.parse(await ok(['create', '--validate=false', '-f', '-', '-o', 'json'], JSON.stringify(review), kubeconfig));
    return out.status.allowed === true;
  }

  const show = (a: Access) => `${a.verb} ${a.group ? `${a.resource}.${a.group}` : a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''} in ${a.namespace ?? 'all namespaces'}`;
  const each = (verbs: string[], rest: Omit<Access, 'verb'>): Access[] => verbs.map((verb) => ({ verb, ...rest }));

  const needed: Access[] = [
    ...each(['get', 'list', 'watch'], { group: GROUP, resource: 'modelroutes' }),
    ...each(['get', 'list', 'watch'], { group: GROUP, resource: 'modelservers' }),
    ...each(['get', 'patch', 'update'], { group: GROUP, resource: 'modelroutes', subresource: 'status', namespace: 'team-a', name: 'r' }),
    ...each(['get', 'patch', 'update'], { group: GROUP, resource: 'modelservers', subresource: 'status', namespace: 'team-a', name: 's' }),
    ...each(['get', 'list', 'watch'], { resource: 'pods' }),
    ...each(['get', 'list', 'watch'], { resource: 'configmaps' }),
    ...each(['get', 'list', 'watch'], { group: 'inference.networking.k8s.io', resource: 'inferencepools' }),
    ...each(['get', 'list', 'watch'], { group: 'inference.networking.x-k8s.io', resource: 'inferencepools' }),
    { verb: 'patch', group: 'inference.networking.k8s.io', resource: 'inferencepools', subresource: 'status', namespace: 'team-a', name: 'pool' },
    { verb: 'patch', group: 'inference.networking.x-k8s.io', resource: 'inferencepools', subresource: 'status', namespace: 'team-a', name: 'pool' },
    ...each(['create', 'patch'], { resource: 'events', namespace: 'team-a' }),
    ...each(['create', 'patch'], { group: 'events.k8s.io', resource: 'events', namespace: 'team-a' }),
    { verb: 'create', resource: 'configmaps', namespace: NS },
    ...each(['get', 'update', 'patch'], { resource: 'configmaps', namespace: NS, name: 'sluice-snapshot' }),
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: NS },
    ...each(['get', 'update'], { group: 'coordination.k8s.io', resource: 'leases', namespace: NS, name: 'sluice-operator' }),
  ];

  const forbidden: Access[] = [
    // Users own the specs.
    ...each(['create', 'update', 'patch', 'delete'], { group: GROUP, resource: 'modelroutes', namespace: 'team-a', name: 'r' }),
    ...each(['update', 'patch', 'delete'], { group: GROUP, resource: 'modelservers', namespace: 'team-a', name: 's' }),
    // Nothing is ever deleted or written outside the operator's own two objects.
    ...each(['create', 'update', 'patch', 'delete'], { resource: 'pods', namespace: 'team-a', name: 'p' }),
    { verb: 'delete', resource: 'configmaps', namespace: NS, name: 'sluice-snapshot' },
    ...each(['update', 'patch'], { resource: 'configmaps', namespace: NS, name: 'sluice-router-config' }),
    ...each(['create', 'update', 'patch'], { resource: 'configmaps', namespace: 'team-a', name: 'sluice-snapshot' }),
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: NS, name: 'someone-else' },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: 'sluice-operator' },
    { verb: 'update', group: 'inference.networking.k8s.io', resource: 'inferencepools', namespace: 'team-a', name: 'pool' },
    // Pool status only by merge patch (with the resourceVersion read), never a whole-object update.
    { verb: 'update', group: 'inference.networking.k8s.io', resource: 'inferencepools', subresource: 'status', namespace: 'team-a', name: 'pool' },
    // Secrets: the push token comes from a mounted file.
    ...each(['get', 'list', 'watch'], { resource: 'secrets' }),
    { verb: 'get', resource: 'secrets', namespace: NS, name: 'sluice-push-token' },
    // No way to grant itself more.
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
    { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: NS, name: 'sluice-operator' },
    { verb: 'impersonate', resource: 'users' },
  ];

  it.each(needed.map((a) => [show(a), a] as const))('the operator may %s', async (_, a) => {
    expect(await canI(operator, a)).toBe(true);
  });

  it.each(forbidden.map((a) => [show(a), a] as const))('the operator may not %s', async (_, a) => {
    expect(await canI(operator, a)).toBe(false);
  });

  it('lets a namespace grant the operator its provider Secrets, by name only, and nothing elsewhere', async () => {
    await ok(['create', 'namespace', 'team-b']);
    await ok(['create', 'rolebinding', 'sluice-provider-secrets', '-n', 'team-b', '--clusterrole=sluice-provider-secrets', `--serviceaccount=${NS}:sluice-operator`]);
    expect(await canI(operator, { verb: 'get', resource: 'secrets', namespace: 'team-b', name: 'deepseek-api-key' })).toBe(true);
    for (const a of [
      ...each(['list', 'watch'], { resource: 'secrets', namespace: 'team-b' }),
      { verb: 'get', resource: 'secrets', namespace: 'team-a', name: 'deepseek-api-key' },
      { verb: 'get', resource: 'secrets', namespace: NS, name: 'sluice-push-token' },
    ]) expect([show(a), await canI(operator, a)]).toEqual([show(a), false]);
    await ok(['delete', 'namespace', 'team-b', '--wait=false']);
  });

  it('lets the operator do its real writes with its own token, and refuses it the others', async () => {
    await ok(['apply', '-f', join(QUICKSTART, 'modelroute-simple.yaml')]);
    const as = (args: string[], input?: string) => kube.kubectl(args, { input, kubeconfig: operator });

    // Snapshot ConfigMap: create, then patch (the publisher's merge patch).
    const snapshot = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sluice-snapshot', namespace: NS }, data: { 'snapshot.json': '{}' } };
    expect((await as(['create', '--validate=false', '-f', '-'], JSON.stringify(snapshot))).stdout).toContain('configmap/sluice-snapshot created');
    expect((await as(['-n', NS, 'patch', 'configmap', 'sluice-snapshot', '--type=merge', '-p', '{"data":{"snapshot.json":"{\\"version\\":2}"}}'])).stdout).toContain('patched');

    // Leader election: create the Lease, then renew it with an update.
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'sluice-operator', namespace: NS }, spec: { holderIdentity: 'sluice-operator-0', leaseDurationSeconds: 15 } };
    expect((await as(['create', '--validate=false', '-f', '-'], JSON.stringify(lease))).stdout).toContain('lease.coordination.k8s.io/sluice-operator created');
    const held = JSON.parse((await as(['-n', NS, 'get', 'lease', 'sluice-operator', '-o', 'json'])).stdout);
    held.spec.renewTime = new Date().toISOString().replace(/Z$/, '000Z');
    expect((await as(['replace', '--validate=false', '-f', '-'], JSON.stringify(held))).stdout).toContain('replaced');

    // Status of a user's route, and an event about it.
    const status = { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 }] } };
    expect((await as(['-n', 'default', 'patch', 'modelroute', 'deepseek-simple', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)])).stdout).toContain('patched');
    const event = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'deepseek-simple.1', namespace: 'default' }, eventTime: '2025-01-01T00:00:00.000000Z', reportingController: 'sluice.dev/operator', reportingInstance: 'sluice-operator-0', action: 'Compile', reason: 'Accepted', type: 'Normal', regarding: { apiVersion: `${GROUP}/v1alpha1`, kind: 'ModelRoute', namespace: 'default', name: 'deepseek-simple' }, note: 'accepted' };
    expect((await as(['create', '--validate=false', '-f', '-'], JSON.stringify(event))).stdout).toContain('created');

    // Refused: the spec, another ConfigMap, a Secret.
    const refused: [string, string[]][] = [
      ['patch modelroutes', ['-n', 'default', 'patch', 'modelroute', 'deepseek-simple', '--type=merge', '-p', '{"spec":{"rules":[{"targetModels":[{"modelServerName":"x"}]}]}}']],
      ['patch configmaps', ['-n', NS, 'patch', 'configmap', 'sluice-router-config', '--type=merge', '-p', '{"data":{"x":"y"}}']],
      ['get secrets', ['-n', NS, 'get', 'secret', 'sluice-push-token']],
    ];
    for (const [what, args] of refused) {
      const r = await as(args);
      expect([what, r.code, r.stderr]).toEqual([what, 1, expect.stringContaining(`User "${OPERATOR_SA}" cannot ${what.split(' ')[0]} resource "${what.split(' ')[1]}"`)]);
    }

    // Leave no Lease or snapshot behind for the real operator below.
    await ok(['-n', NS, 'delete', 'lease', 'sluice-operator']);
    await ok(['-n', NS, 'delete', 'configmap', 'sluice-snapshot']);
  });

  it('gives the data plane nothing beyond what every authenticated user has', async () => {
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } };
    const rules = JSON.parse(await ok(['create', '--validate=false', '-f', '-', '-o', 'json'], JSON.stringify(review), dataplane)).status.resourceRules as Obj[];
    // Only the self-reviews of the built-in system:basic-user role.
    const resources = rules.flatMap((r) => (r.resources as string[]).map((res) => `${(r.apiGroups as string[]).join(',')}/${res} ${(r.verbs as string[]).join(',')}`));
    expect(resources.sort()).toEqual([
      'authentication.k8s.io/selfsubjectreviews create',
      'authorization.k8s.io/selfsubjectaccessreviews create',
      'authorization.k8s.io/selfsubjectrulesreviews create',
    ]);
    for (const a of [
      { verb: '*', group: '*', resource: '*' },
      { verb: 'get', resource: 'configmaps', namespace: NS, name: 'sluice-snapshot' },
      { verb: 'get', resource: 'secrets', namespace: NS, name: 'sluice-push-token' },
      { verb: 'list', resource: 'pods', namespace: NS },
      { verb: 'list', group: GROUP, resource: 'modelroutes' },
    ]) {
      expect([show(a), await canI(dataplane, a)]).toEqual([show(a), false]);
    }
  });
});

describe('kubectl get', () => {
  beforeAll(async () => {
    const files = readdirSync(QUICKSTART).filter((f) => /^modelroute-.*\.yaml$/.test(f) || f === 'modelservers.yaml');
    expect(files).toHaveLength(5);
    await ok(['apply', ...files.flatMap((f) => ['-f', join(QUICKSTART, f)])]);
  });

  /** `kubectl get` as rows of whitespace-separated cells (no cell here contains a space). */
  const table = async (args: string[]) => (await ok(['get', ...args])).trim().split('\n').map((l) => l.trim().split(/\s+/));

  it('shows MODEL, ACCEPTED, RESOLVED, PROGRAMMED for ModelRoutes, filled in from status conditions', async () => {
    const condition = (type: string, status: string) => ({ type, status, reason: type, message: 'set by the test', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 });
    const status = { status: { conditions: [condition('Accepted', 'True'), condition('ResolvedRefs', 'True'), condition('Programmed', 'False')] } };
    await ok(['-n', 'default', 'patch', 'modelroute', 'deepseek-subset', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
    const rows = await waitFor('the status in the table', async () => {
      const t = await table(['modelroutes', '-n', 'default']);
      return t.find((r) => r[0] === 'deepseek-subset')?.[2] === 'True' ? t : undefined;
    });
    expect(rows[0]).toEqual(['NAME', 'MODEL', 'ACCEPTED', 'RESOLVED', 'PROGRAMMED', 'AGE']);
    expect(rows.find((r) => r[0] === 'deepseek-subset')!.slice(0, 5)).toEqual(['deepseek-subset', 'deepseek-subset', 'True', 'True', 'False']);
    // The LoRA-only route has no model; -o wide adds its adapters.
    const wide = await table(['modelroutes', '-n', 'default', '-o', 'wide']);
    expect(wide[0]).toEqual(['NAME', 'MODEL', 'LORAS', 'ACCEPTED', 'RESOLVED', 'PROGRAMMED', 'AGE']);
    expect(wide.find((r) => r[0] === 'deepseek-lora')!.slice(0, 2)).toEqual(['deepseek-lora', '["lora-A","lora-B"]']);
  });

  it('shows MODEL, ENGINE, PORT, READY, PODS for ModelServers', async () => {
    await ok(['-n', 'default', 'patch', 'modelserver', 'deepseek-r1-7b', '--subresource=status', '--type=merge', '-p', '{"status":{"readyEndpoints":2,"totalEndpoints":3}}']);
    const rows = await table(['modelservers', '-n', 'default']);
    expect(rows[0]).toEqual(['NAME', 'MODEL', 'ENGINE', 'PORT', 'READY', 'PODS', 'AGE']);
    expect(rows.find((r) => r[0] === 'deepseek-r1-7b')!.slice(0, 6)).toEqual(['deepseek-r1-7b', 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', 'vLLM', '8000', '2', '3']);
    // Short names and the category work too.
    expect((await ok(['get', 'sluice', '-n', 'default', '-o', 'name'])).trim().split('\n')).toHaveLength(8);
    expect((await table(['ms', '-n', 'default'])).length).toBe(5);
  });
});

describe('the real operator with the Deployment\'s arguments and the ServiceAccount\'s token', () => {
  it('leads, stores the snapshot and writes status, and is never Forbidden', async () => {
    const tmp = tempDir('manifests-operator');
    const tokenFile = join(tmp.dir, 'token');
    writeFileSync(tokenFile, 'push-token\n');
    const saToken = (await ok(['-n', NS, 'create', 'token', 'sluice-operator', '--duration=10m'])).trim();
    const container = (await getJson(['-n', NS, 'deployment', 'sluice-operator'])).spec.template.spec.containers[0];
    // What the kubelet would do: expand $(POD_NAMESPACE), mount the token file, give in-cluster credentials.
    const args = (container.args as string[]).map((a) => (a === '$(POD_NAMESPACE)' ? NS : a === flag(container, '--push-token-file') ? tokenFile : a));
    expect(args).toContain(tokenFile);
    const { proc } = await startNode('operator/main.js', [...args, '--kubeconfig', kube.writeKubeconfig(saToken, 'operator-process')], /operator watching the Kubernetes API/, 30_000);
    try {
      const lease = await getJson(['-n', NS, 'lease', 'sluice-operator']);
      expect(lease.spec.holderIdentity).toBeTruthy();
      const snapshot = await waitFor('the snapshot ConfigMap', async () => (await kube.kubectl(['-n', NS, 'get', 'configmap', 'sluice-snapshot', '-o', 'json'])).stdout, 20_000, 200);
      expect(JSON.parse(JSON.parse(snapshot).data['snapshot.json']).version).toBeGreaterThanOrEqual(1);
      // Status from the operator: the route is accepted, and nothing serves it yet (no data-plane pods here).
      const route = await waitFor('conditions written by the operator', async () => {
        const r = await getJson(['-n', 'default', 'modelroute', 'deepseek-simple']);
        const programmed = (r.status?.conditions ?? []).find((c: Obj) => c.type === 'Programmed');
        return programmed?.reason === 'NoDataPlane' ? r : undefined;
      }, 20_000, 200);
      expect(route.status.conditions.find((c: Obj) => c.type === 'Accepted')).toMatchObject({ status: 'True', observedGeneration: route.metadata.generation });
      const ms = await waitFor('ModelServer status', async () => {
        const m = await getJson(['-n', 'default', 'modelserver', 'deepseek-r1-1-5b']);
        return m.status?.totalEndpoints === 0 ? m : undefined;
      }, 20_000, 200);
      expect(ms.status.readyEndpoints).toBe(0);
      expect(proc.output()).not.toMatch(/forbidden|\b403\b/i);
    } finally {
      await proc.stop();
      tmp.cleanup();
    }
  });
});

describe('an overlay', () => {
  it('moves every namespaced object, the RBAC subjects and the namespace itself with `namespace:`', async () => {
    const overlay = join(kube.dir, 'overlay');
    mkdirSync(overlay, { recursive: true });
    // kustomize takes a base by relative path only.
    writeFileSync(join(overlay, 'kustomization.yaml'), `namespace: llm-router\nresources:\n  - ${relative(overlay, BASE)}\n`);
    const text = await ok(['kustomize', overlay]);
    expect(text).not.toContain(NS);
    const objects = yaml.loadAll(text) as Obj[];
    expect(objects.find((o) => o.kind === 'Namespace')!.metadata.name).toBe('llm-router');
    expect(objects.find((o) => o.kind === 'ClusterRoleBinding')!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'sluice-operator', namespace: 'llm-router' }]);
  });
});
