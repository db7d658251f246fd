#!/usr/bin/env node
/**
 * `npm run kube:up`: the tests' real kube-apiserver + etcd (kube-apiserver.ts) as a local cluster
 * to develop against. Installs Sluice's CRDs, stand-ins for the InferencePool CRDs
 * (inference-pool-crds.ts) and the sluice-system namespace, writes a kubeconfig
 * (CA embedded) to .sluice/kube/kubeconfig and prints the `export KUBECONFIG=...` line and the
 * command that runs the operator against it. Ctrl-C or SIGTERM stops etcd and the API server and
 * removes the kubeconfig.
 *
 * As in the tests, there are no controllers, scheduler or kubelets: Pods stay as applied (status
 * included, which is how the examples give their engines an IP).
 *
 * Options (environment): SLUICE_WORK_DIR (default .sluice in the repository), plus
 * kube-apiserver.ts's SLUICE_KUBE_BIN / SLUICE_KUBE_CACHE.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INFERENCE_POOL_CRDS, inferencePoolCrdList } from './inference-pool-crds';
import { checkKubeBinaries, startKubeApiserver, type KubeApi } from './kube-apiserver';

const root = resolve(__dirname, '..', '..', ...(__dirname.includes('/dist/') ? ['..'] : []));
const work = resolve(process.env.SLUICE_WORK_DIR ?? join(root, '.sluice'));
const kubeconfigPath = join(work, 'kube', 'kubeconfig');

/** A kubeconfig for the admin token with the CA inline, so it outlives nothing but the cluster. */
function kubeconfigFor(kube: KubeApi): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sluice-dev', cluster: { server: kube.url, 'certificate-authority-data': readFileSync(kube.caFile).toString('base64') } }],
    users: [{ name: 'sluice-dev-admin', user: { token: kube.adminToken } }],
    contexts: [{ name: 'sluice-dev', context: { cluster: 'sluice-dev', user: 'sluice-dev-admin', namespace: 'default' } }],
    'current-context': 'sluice-dev',
  }, null, 2);
}

async function must(kube: KubeApi, args: string[], input?: string): Promise<void> {
  const r = await kube.kubectl(args, { timeoutMs: 60_000, input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
}

async function main(): Promise<void> {
  let kubectlPath: string;
  try {
    kubectlPath = checkKubeBinaries().kubectl;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  const kube = await startKubeApiserver();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping kube-apiserver and etcd\n`);
    rmSync(kubeconfigPath, { force: true });
    void kube.stop().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`stop failed: ${err.message}\n`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  try {
    await must(kube, ['apply', '-f', join(root, 'crds')]);
    await must(kube, ['apply', '-f', '-'], inferencePoolCrdList());
    await must(kube, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/modelroutes.networking.serving.volcano.sh', 'crd/modelservers.networking.serving.volcano.sh', ...INFERENCE_POOL_CRDS]);
    await must(kube, ['apply', '-f', join(root, 'manifests', 'base', 'namespace.yaml')]);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${kube.logs(20)}\n`);
    await kube.stop();
    process.exit(1);
  }
  mkdirSync(join(work, 'kube'), { recursive: true });
  writeFileSync(kubeconfigPath, kubeconfigFor(kube), { mode: 0o600 });
  const rel = (p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p);
  process.stdout.write([
    `Kubernetes API at ${kube.url} (etcd + kube-apiserver; no controllers or kubelets), with Sluice's CRDs, InferencePool stand-ins and namespace sluice-system.`,
    '',
    'In another shell:',
    `  export KUBECONFIG=${kubeconfigPath}`,
    `  ${rel(kubectlPath)} apply -f manifests/examples/quickstart`,
    '  node dist/operator/main.js --kube --namespace sluice-system',
    '',
    'Ctrl-C stops it.',
    '',
  ].join('\n'));
}

void main().catch((err: Error) => {
  process.stderr.write(`kube:up failed: ${err.message}\n`);
  process.exit(1);
});
