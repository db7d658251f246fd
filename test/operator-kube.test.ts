/**
 * The operator on a real kube-apiserver, driven by the real kubectl: the seed 004 objects applied
 * with kubectl become Programmed, traffic flows through a data plane (a local process whose Pod
 * object the test creates and marks Ready: there is no kubelet), the snapshot lands in a
 * ConfigMap, status explains a missing ModelServer or a refused edit, an InferencePool gets
 * Sluice's entry in its status, and an engine Pod turning not-Ready leaves the snapshot.
 */

import { join } from 'node:path';
import { request } from 'undici';
import { startEngineSim, type EngineSimHandle } from '../hack/engine-sim/simulator';
import { startKubeApiserver, type KubeApi } from './helpers/kube-apiserver';
import { writeFileSync } from 'node:fs';
import { ROOT, startNode, stopAll, tempDir, waitFor, type Proc } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when kube is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll } = testsNeeding('kube');

const NET = 27;
const ADMIN_PORT = 18481;
let kube: KubeApi;
let sim: EngineSimHandle;
let trafficUrl = '';
let operator: Proc;
const operatorArgs = () => ['--kube', '--kubeconfig', kube.kubeconfig, '--namespace', 'sluice-system', '--dataplane-admin-port', String(ADMIN_PORT), '--push-token', 'tok', '--debounce-ms', '50', '--lease-duration-seconds', '4', '--secret-poll-ms', '300'];

/** An OpenAI-compatible API outside the cluster (no Pod object): the simulator with vLLM's --api-key. */
const PROVIDER = { name: 'external-api', ip: `127.${NET}.0.31`, port: 8000, model: 'gpt-x', apiKey: 'sk-ext-e2e-42' };

const ENGINES = [
  { name: 'deepseek-r1-1-5b-0', app: 'deepseek-r1-1-5b', ip: `127.${NET}.0.11`, model: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B' },
  { name: 'deepseek-r1-7b-0', app: 'deepseek-r1-7b', ip: `127.${NET}.0.21`, model: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B' },
];

/**
 * InferencePool comes with the Gateway API Inference Extension, not with Sluice. This CRD carries
 * the status part of its v1 schema (parents with a parentRef and metav1.Condition entries, whose
 * required fields and reason pattern the API server enforces), so a status Sluice writes in the
 * wrong shape is refused or pruned here as it would be in a cluster. The spec is left open.
 */
const CONDITION = {
  type: 'object', required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 }, status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 }, lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024, minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }, message: { type: 'string', maxLength: 32768 },
  },
};
const POOL_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: {
    name: 'inferencepools.inference.networking.k8s.io',
    // *.k8s.io groups need this; the value says plainly that this is not the approved upstream CRD.
    annotations: { 'api-approved.kubernetes.io': 'unapproved, test stand-in for the Gateway API Inference Extension CRD' },
  },
  spec: {
    group: 'inference.networking.k8s.io', scope: 'Namespaced',
    names: { plural: 'inferencepools', singular: 'inferencepool', kind: 'InferencePool', listKind: 'InferencePoolList' },
    versions: [{
      name: 'v1', served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: {
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', properties: { parents: { type: 'array', maxItems: 32, items: { type: 'object', required: ['parentRef'], properties: {
          parentRef: { type: 'object', required: ['name'], properties: { group: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' }, namespace: { type: 'string' } } },
          conditions: { type: 'array', maxItems: 8, items: CONDITION },
        } } } } },
      } } },
    }],
  },
};

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await kube.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Creates a Pod object and marks it Running and Ready with `ip`, as a kubelet would. */
async function readyPod(ns: string, name: string, labels: Record<string, string>, ip: string, ready = true): Promise<void> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image: 'engine' }] } };
  await kubectl(['apply', '-f', '-'], JSON.stringify(pod));
  await setPodReady(ns, name, ip, ready);
}

async function setPodReady(ns: string, name: string, ip: string, ready: boolean): Promise<void> {
  const status = { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } };
  await kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
}

async function complete(model: string, headers: Record<string, string> = {}) {
  const res = await request(`${trafficUrl}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, prompt: 'hi', max_tokens: 1 }) });
  const text = await res.body.text();
  return { status: res.statusCode, model: String(res.headers['x-sim-model']), text };
}

const condition = async (kind: string, name: string, type: string) => {
  const out = await kubectl(['get', kind, name, '-o', 'json']);
  return ((JSON.parse(out) as { status?: { conditions?: { type: string; status: string; message: string; reason: string }[] } }).status?.conditions ?? []).find((c) => c.type === type);
};

beforeAll(async () => {
  kube = await startKubeApiserver();
  await kubectl(['apply', '-f', join(ROOT, 'crds')]);
  await kubectl(['apply', '-f', '-'], JSON.stringify(POOL_CRD));
  await kubectl(['wait', '--for=condition=Established', 'crd/modelroutes.networking.serving.volcano.sh', 'crd/modelservers.networking.serving.volcano.sh', 'crd/externalmodelproviders.networking.serving.volcano.sh', 'crd/inferencepools.inference.networking.k8s.io', '--timeout=30s']);
  await kubectl(['create', 'namespace', 'sluice-system']);
  sim = await startEngineSim({ timeScale: 50, pods: [...ENGINES.map((e) => ({ name: e.name, ip: e.ip, port: 8000, model: e.model })), PROVIDER] });
  for (const e of ENGINES) await readyPod('default', e.name, { app: e.app }, e.ip);

  const dpIp = `127.${NET}.1.1`;
  const { match } = await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', `${dpIp}:${ADMIN_PORT}`, '--push-token', 'tok', '--scrape-interval-ms', '200'], /"trafficPort":(\d+)/);
  trafficUrl = `http://127.0.0.1:${match[1]}`;
  await readyPod('sluice-system', 'sluice-dataplane-0', { 'app.kubernetes.io/name': 'sluice-dataplane' }, dpIp);
  ({ proc: operator } = await startNode('operator/main.js', operatorArgs(), /operator watching the Kubernetes API/));
}, 120_000);

afterAll(async () => {
  await stopAll();
  await sim?.close();
  await kube?.stop();
});

describe('operator on a real API server', () => {
  it('kubectl apply of the seed objects → Programmed, and traffic flows', async () => {
    const examples = join(ROOT, 'manifests', 'examples', 'quickstart');
    for (const f of ['modelservers.yaml', 'modelroute-simple.yaml', 'modelroute-multi-models.yaml']) await kubectl(['apply', '-f', join(examples, f)]);
    await kubectl(['wait', '--for=condition=Programmed', 'modelroute/deepseek-simple', 'modelroute/deepseek-multi-models', '--timeout=30s']);
    const programmed = await condition('modelroute', 'deepseek-simple', 'Programmed');
    expect(programmed!.message).toMatch(/^applied on 1\/1 data-plane replicas \(snapshot \d+\)$/);
    expect((await complete('deepseek-simple')).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    expect((await complete('deepseek-multi-models', { 'user-type': 'premium' })).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
  });

  it('kubectl get shows useful columns, and ModelServer status counts endpoints', async () => {
    const routes = await kubectl(['get', 'modelroutes']);
    expect(routes.split('\n')[0]).toMatch(/NAME\s+MODEL\s+ACCEPTED\s+RESOLVED\s+PROGRAMMED\s+AGE/);
    expect(routes).toMatch(/deepseek-simple\s+deepseek-simple\s+True\s+True\s+True/);
    await waitFor('ModelServer status', async () => /deepseek-r1-7b\s+deepseek-ai\/DeepSeek-R1-Distill-Qwen-7B\s+vLLM\s+8000\s+1\s+1/.test(await kubectl(['get', 'modelservers'])));
  });

  it('stores the snapshot in the sluice-snapshot ConfigMap', async () => {
    const cm = JSON.parse(await kubectl(['get', 'configmap', 'sluice-snapshot', '-n', 'sluice-system', '-o', 'json'])) as { data: Record<string, string>; metadata: { annotations: Record<string, string> } };
    const snap = JSON.parse(cm.data['snapshot.json']!) as { version: number; hash: string; routes: { key: string }[] };
    expect(snap.routes.map((r) => r.key).sort()).toEqual(['default/deepseek-multi-models', 'default/deepseek-simple']);
    expect(cm.metadata.annotations['sluice.dev/snapshot-hash']).toBe(snap.hash);
  });

  it('an edit Sluice refuses gets Accepted=False for its own generation, and the last valid version keeps serving', async () => {
    // The CRD schema cannot parse a regex, so the API server stores this; Sluice's validation refuses it.
    await kubectl(['patch', 'modelroute', 'deepseek-simple', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/rules/0/modelMatch', value: { uri: { regex: '(' } } }])]);
    const generation = Number(await kubectl(['get', 'modelroute', 'deepseek-simple', '-o', 'jsonpath={.metadata.generation}']));
    const refused = await waitFor('Accepted False', async () => {
      const c = await condition('modelroute', 'deepseek-simple', 'Accepted') as { status: string; reason: string; message: string; observedGeneration?: number } | undefined;
      return c?.status === 'False' ? c : null;
    });
    expect(refused).toMatchObject({ reason: 'Invalid', observedGeneration: generation });
    expect(refused.message).toMatch(new RegExp(`^generation ${generation} refused: spec\\.rules\\[0\\]\\.modelMatch\\.uri\\.regex: not a valid regular expression`));
    expect((await complete('deepseek-simple')).status).toBe(200);
    await kubectl(['patch', 'modelroute', 'deepseek-simple', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/rules/0/modelMatch' }])]);
    await waitFor('Accepted True again', async () => (await condition('modelroute', 'deepseek-simple', 'Accepted'))?.status === 'True');
  });

  it('records Events for the refusal, the fix and each programmed generation, and rate-limits a flapping route', async () => {
    interface KubeEvent { type: string; reason: string; note: string; reportingController: string; regarding: { kind: string; name: string; uid?: string }; series?: { count: number } }
    const events = async (name: string): Promise<KubeEvent[]> => (JSON.parse(await kubectl(['get', 'events.events.k8s.io', '-n', 'default', '-o', 'json'])) as { items: KubeEvent[] })
      .items.filter((e) => e.regarding.kind === 'ModelRoute' && e.regarding.name === name);
    const uid = await kubectl(['get', 'modelroute', 'deepseek-simple', '-o', 'jsonpath={.metadata.uid}']);
    // The previous test refused generation N and accepted the fix: both are Events on the route.
    const seen = await waitFor('Refused and Accepted events', async () => {
      const list = await events('deepseek-simple');
      return list.some((e) => e.reason === 'Refused') && list.some((e) => e.reason === 'Accepted') ? list : null;
    });
    const refused = seen.find((e) => e.reason === 'Refused')!;
    expect(refused).toMatchObject({ type: 'Warning', reportingController: 'sluice.dev/operator', regarding: { uid } });
    expect(refused.note).toMatch(/^generation \d+ refused: spec\.rules\[0\]\.modelMatch\.uri\.regex: not a valid regular expression/);
    expect(seen.filter((e) => e.reason === 'Programmed').every((e) => e.type === 'Normal' && /^generation \d+ applied on/.test(e.note))).toBe(true);

    // Eight different bad edits, each seen by the operator: without a limit, eight more Events.
    const before = (await events('deepseek-simple')).length;
    for (let i = 0; i < 8; i++) {
      await kubectl(['patch', 'modelroute', 'deepseek-simple', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/rules/0/modelMatch', value: { uri: { regex: `(${i}` } } }])]);
      const gen = await kubectl(['get', 'modelroute', 'deepseek-simple', '-o', 'jsonpath={.metadata.generation}']);
      await waitFor(`generation ${gen} refused`, async () => (await condition('modelroute', 'deepseek-simple', 'Accepted') as { message?: string } | undefined)?.message?.startsWith(`generation ${gen} refused`));
    }
    await kubectl(['patch', 'modelroute', 'deepseek-simple', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/rules/0/modelMatch' }])]);
    await waitFor('Accepted True again', async () => (await condition('modelroute', 'deepseek-simple', 'Accepted'))?.status === 'True');
    // At most the burst of 5 per route since it was created (plus one refill a minute).
    const total = (await events('deepseek-simple')).length;
    expect(total - before).toBeLessThan(8);
    expect(total).toBeLessThanOrEqual(6);
  });

  it('writes an InferencePool\'s conditions as its own entry in status.parents, keeping a Gateway\'s', async () => {
    const pool = { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'pool-a', namespace: 'default' }, spec: { targetPorts: [{ number: 8000 }], selector: { matchLabels: { app: 'deepseek-r1-1-5b' } } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(pool));
    const gateway = { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', namespace: 'default' }, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'by the gateway', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }] };
    // Another controller's entry; whether it lands before or after Sluice's first write, both must end up there.
    await kubectl(['patch', 'inferencepool', 'pool-a', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { parents: [gateway] } })]);
    type Parent = { parentRef: Record<string, string>; conditions: { type: string; status: string; message: string; observedGeneration?: number }[] };
    const got = await waitFor('Sluice\'s entry next to the Gateway\'s', async () => {
      const p = JSON.parse(await kubectl(['get', 'inferencepool', 'pool-a', '-o', 'json'])) as { metadata: { generation: number }; status?: { parents?: Parent[] } };
      const parents = p.status?.parents ?? [];
      return parents.length === 2 && parents.some((e) => e.parentRef.group === 'sluice.dev') ? { parents, generation: p.metadata.generation } : null;
    }, 15_000);
    expect(got.parents.find((e) => e.parentRef.group === 'gateway.networking.k8s.io')).toEqual(gateway);
    const ours = got.parents.find((e) => e.parentRef.group === 'sluice.dev')!;
    expect(ours.parentRef).toEqual({ group: 'sluice.dev', kind: 'Router', name: 'sluice', namespace: 'sluice-system' });
    expect(ours.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', message: '1/1 selected pods ready', observedGeneration: got.generation });
    await kubectl(['delete', 'inferencepool', 'pool-a']);
  });

  it('an ExternalModelProvider reads its key from a Secret: CredentialNotFound until it exists, then traffic flows', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ExternalModelProvider', metadata: { name: 'ext', namespace: 'default' },
      spec: { model: PROVIDER.model, baseURL: `http://${PROVIDER.ip}:${PROVIDER.port}/v1`, allowInsecure: true, auth: { secretRef: { name: 'ext-key', key: 'apiKey' } } } }));
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelRoute', metadata: { name: 'external', namespace: 'default' },
      spec: { modelName: 'external', rules: [{ targetModels: [{ externalModelProviderName: 'ext' }] }] } }));
    await kubectl(['wait', '--for=condition=Ready=False', 'externalmodelprovider/ext', '--timeout=30s']);
    expect(await condition('externalmodelprovider', 'ext', 'CredentialsResolved')).toMatchObject({ status: 'False', reason: 'CredentialNotFound', message: expect.stringMatching(/Secret ext-key in namespace default not found/) });
    await kubectl(['wait', '--for=condition=Programmed', 'modelroute/external', '--timeout=30s']);
    const before = await complete('external');
    expect(before.status).toBe(503);
    expect(before.text).toContain('SLUICE_PROVIDER_UNAVAILABLE');

    await kubectl(['create', 'secret', 'generic', 'ext-key', '--from-literal', `apiKey=${PROVIDER.apiKey}`]);
    await kubectl(['wait', '--for=condition=Ready', 'externalmodelprovider/ext', '--timeout=30s']);
    const after = await waitFor('provider answering', async () => {
      const r = await complete('external');
      return r.status === 200 ? r : null;
    });
    expect(after.model).toBe(PROVIDER.model);
    const got = JSON.parse(await kubectl(['get', 'externalmodelprovider', 'ext', '-o', 'json'])) as { metadata: { generation: number }; status: { observedGeneration: number } };
    expect(got.status.observedGeneration).toBe(got.metadata.generation);
    expect(await kubectl(['get', 'externalmodelproviders'])).toMatch(/NAME\s+BASE URL\s+MODEL\s+READY\s+AGE\n\s*ext\s+http:\/\/127\.27\.0\.31:8000\/v1\s+gpt-x\s+True/);
    // The key reaches the provider and no ConfigMap.
    expect(await kubectl(['get', 'configmap', '-n', 'sluice-system', 'sluice-snapshot', '-o', 'json'])).not.toContain(PROVIDER.apiKey);
    await kubectl(['delete', 'modelroute', 'external']);
    await kubectl(['delete', 'externalmodelprovider', 'ext']);
  });

  it('deleting a ModelServer turns the dependent routes\' ResolvedRefs False, with the fix named', async () => {
    await kubectl(['delete', 'modelserver', 'deepseek-r1-7b']);
    const c = await waitFor('ResolvedRefs False', async () => {
      const cond = await condition('modelroute', 'deepseek-multi-models', 'ResolvedRefs');
      return cond?.status === 'False' ? cond : null;
    });
    expect(c.message).toMatch(/rules\[0\]\.targetModels\[0\]: ModelServer deepseek-r1-7b not found in namespace default/);
    const r = await complete('deepseek-multi-models', { 'user-type': 'premium' });
    expect(r.status).toBe(500);
    expect(r.text).toContain('SLUICE_TARGET_UNRESOLVED');
  });

  it('scaling data planes 1 → 3 gives the new replicas the current snapshot: Programmed says 3/3', async () => {
    // New data-plane pods are Running but not Ready: a data plane turns Ready only once it holds a
    // snapshot, so the operator must push to it before (a fresh install would deadlock otherwise).
    for (const n of [2, 3]) {
      const ip = `127.${NET}.1.${n}`;
      await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', `${ip}:${ADMIN_PORT}`, '--push-token', 'tok'], /"trafficPort":(\d+)/);
      await readyPod('sluice-system', `sluice-dataplane-${n - 1}`, { 'app.kubernetes.io/name': 'sluice-dataplane' }, ip, false);
    }
    await waitFor('Programmed 3/3', async () => /^applied on 3\/3 data-plane replicas/.test((await condition('modelroute', 'deepseek-simple', 'Programmed'))?.message ?? ''), 15_000);
  });

  it('an engine Pod turning not-Ready leaves the snapshot', async () => {
    await setPodReady('default', 'deepseek-r1-1-5b-0', ENGINES[0]!.ip, false);
    await waitFor('deepseek-simple unserved', async () => (await complete('deepseek-simple')).status === 503);
    const ready = await condition('modelserver', 'deepseek-r1-1-5b', 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'NoReadyEndpoints' });
    await setPodReady('default', 'deepseek-r1-1-5b-0', ENGINES[0]!.ip, true);
    await waitFor('deepseek-simple served again', async () => (await complete('deepseek-simple')).status === 200);
  });

  it('one active operator through the Lease; a second takes over when the first stops', async () => {
    const holder = async () => (await kubectl(['get', 'lease', 'sluice-operator', '-n', 'sluice-system', '-o', 'jsonpath={.spec.holderIdentity}'])).trim();
    const first = await holder();
    expect(first).not.toBe('');
    const second = startNode('operator/main.js', operatorArgs(), /operator watching the Kubernetes API/, 30_000);
    await operator.stop();
    const { proc } = await second;
    operator = proc;
    await waitFor('the lease to change hands', async () => { const h = await holder(); return h !== '' && h !== first; });
  });

  it('with the operator stopped the data planes keep serving, and a restarted one starts from the ConfigMap copy', async () => {
    await operator.stop();
    expect((await complete('deepseek-simple')).status).toBe(200);
    const cm = JSON.parse(await kubectl(['get', 'configmap', 'sluice-snapshot', '-n', 'sluice-system', '-o', 'json'])) as { data: Record<string, string> };
    const dir = tempDir('mount');
    const file = join(dir.dir, 'snapshot.json');
    writeFileSync(file, cm.data['snapshot.json']!); // what the kubelet would mount
    const { match } = await startNode('dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--snapshot-file', file], /"trafficPort":(\d+)/);
    const res = await request(`http://127.0.0.1:${match[1]}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'deepseek-simple', prompt: 'hi', max_tokens: 1 }) });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    dir.cleanup();
  });
});
