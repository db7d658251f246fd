/**
 * `sluice-bench apply-latency`: time from `kubectl apply` of a ModelRoute change to the data plane
 * serving it, on a real kube-apiserver (hack/kube), with the operator in Kubernetes mode and a
 * data-plane process whose Pod object the benchmark creates and marks Ready. Each change flips the
 * route between two ModelServers; the clock stops when a request through the data plane is
 * answered by the new target. Reported with kubectl's own start-up time, measured in the same run
 * (`kubectl version --client`), since a user's apply pays it too.
 *
 * Target (issue 4): p99 < 1 s over 100 changes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startEngineSim } from '../engine-sim/simulator';
import { checkKubeBinaries, startKubeApiserver } from '../kube/kube-apiserver';
import { DIST, startNode, stopAll } from './processes';
import { percentile } from './stats';

const NET = 29;
const ADMIN_PORT = 18581;

const route = (target: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: flip
  namespace: default
spec:
  modelName: flip
  rules:
  - targetModels:
    - modelServerName: ${target}
`;

const server = (name: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: ${name}
  namespace: default
spec:
  model: model-${name}
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels:
      app: ${name}
  workloadPort:
    port: 8000
`;

function run(file: string, args: string[], input?: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${args.join(' ')}: ${stderr || err.message}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Runs `changes` route flips and prints a Markdown report. */
export async function runApplyLatency(changes: number): Promise<void> {
  const bins = checkKubeBinaries();
  const kube = await startKubeApiserver();
  const work = mkdtempSync(join(tmpdir(), 'sluice-apply-latency-'));
  const sim = await startEngineSim({ timeScale: 100, pods: [
    { name: 'a-0', ip: `127.${NET}.0.1`, port: 8000, model: 'model-a' },
    { name: 'b-0', ip: `127.${NET}.0.2`, port: 8000, model: 'model-b' },
  ] });
  const kubectl = (args: string[], input?: string) => run(bins.kubectl, ['--kubeconfig', kube.kubeconfig, ...args], input);
  try {
    await kubectl(['apply', '-f', join(DIST, '..', 'crds')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/modelroutes.networking.serving.volcano.sh', 'crd/modelservers.networking.serving.volcano.sh', '--timeout=30s']);
    await kubectl(['create', 'namespace', 'sluice-system']);
    const pod = async (ns: string, name: string, labels: Record<string, string>, ip: string) => {
      await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'c', image: 'x' }] } }));
      await kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] } })]);
    };
    await pod('default', 'a-0', { app: 'a' }, `127.${NET}.0.1`);
    await pod('default', 'b-0', { app: 'b' }, `127.${NET}.0.2`);
    const dpIp = `127.${NET}.1.1`;
    const { match } = await startNode('dataplane', 'dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', `${dpIp}:${ADMIN_PORT}`, '--push-token', 't', '--access-log', 'false'], work, /"trafficPort":(\d+)/);
    await pod('sluice-system', 'dp-0', { 'app.kubernetes.io/name': 'sluice-dataplane' }, dpIp);
    await startNode('operator', 'operator/main.js', ['--kube', '--kubeconfig', kube.kubeconfig, '--namespace', 'sluice-system', '--dataplane-admin-port', String(ADMIN_PORT), '--push-token', 't', '--debounce-ms', '20'], work, /operator watching the Kubernetes API/);
    writeFileSync(join(work, 'servers.yaml'), `${server('a')}---\n${server('b')}`);
    await kubectl(['apply', '-f', join(work, 'servers.yaml')]);
    const served = async () => {
      const res = await request(`http://127.0.0.1:${match[1]}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"flip","prompt":"x","max_tokens":1}' });
      await res.body.dump();
      return res.statusCode === 200 ? String(res.headers['x-sim-model']) : '';
    };
    const latencies: number[] = [];
    const kubectlStart: number[] = [];
    for (let i = 0; i <= changes; i++) {
      const target = i % 2 === 0 ? 'a' : 'b';
      const file = join(work, `route-${i}.yaml`);
      writeFileSync(file, route(target));
      const t0 = process.hrtime.bigint();
      await kubectl(['apply', '-f', file]);
      const deadline = Date.now() + 10_000;
      while ((await served()) !== `model-${target}`) {
        if (Date.now() > deadline) throw new Error(`change ${i} not served within 10 s`);
        await new Promise((r) => setTimeout(r, 2));
      }
      // The first apply creates the route; only the flips after it are changes.
      if (i > 0) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (i < 10) kubectlStart.push(await run(bins.kubectl, ['version', '--client']));
    }
    const sorted = [...latencies].sort((x, y) => x - y);
    const ks = [...kubectlStart].sort((x, y) => x - y);
    console.log(`${changes} route changes (kubectl apply → first request answered by the new target), real kube-apiserver, operator --kube, 1 data plane:

| | p50 ms | p99 ms | max ms |
|---|--:|--:|--:|
| apply → serving | ${percentile(sorted, 50).toFixed(0)} | ${percentile(sorted, 99).toFixed(0)} | ${sorted[sorted.length - 1]!.toFixed(0)} |
| of which kubectl start-up (\`kubectl version --client\`, same run) | ${percentile(ks, 50).toFixed(0)} | ${percentile(ks, 99).toFixed(0)} | ${ks[ks.length - 1]!.toFixed(0)} |

Target: p99 < 1000 ms → ${percentile(sorted, 99) < 1000 ? 'met' : 'MISSED'}.`);
  } finally {
    await stopAll();
    await sim.close();
    await kube.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
