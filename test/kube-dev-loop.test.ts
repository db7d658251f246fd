/**
 * The Kubernetes dev loop, as a developer runs it: `npm run kube:up` (hack/kube/up.ts) prints an
 * `export KUBECONFIG=...` line; every folder under manifests/examples applies to that cluster
 * unchanged with the real kubectl; the operator started with nothing but KUBECONFIG (no
 * --kubeconfig) finds it and programs the objects; SIGTERM stops the cluster.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkKubeBinaries } from './helpers/kube-apiserver';
import { ROOT, startNode, stopAll, tempDir, waitFor, type Proc } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';

// Skipped, with one line saying how to enable them, when kube is missing (failed under SLUICE_REQUIRE_ALL_TESTS=1).
const { describe, it, beforeAll, afterAll } = testsNeeding('kube');

jest.setTimeout(180_000);

const EXAMPLES = join(ROOT, 'manifests', 'examples');
const folders = readdirSync(EXAMPLES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

const work = tempDir('kube-up');
let up: Proc;
let kubeconfig = '';

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(checkKubeBinaries().kubectl, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work.dir, KUBECONFIG: kubeconfig }, timeout: 30_000 },
      (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  const started = await startNode('hack/kube/up.js', [], /export KUBECONFIG=(\S+)\n[\s\S]*Ctrl-C/, 120_000, { SLUICE_WORK_DIR: work.dir });
  up = started.proc;
  kubeconfig = started.match[1]!;
});

afterAll(async () => {
  await stopAll();
  work.cleanup();
});

describe('npm run kube:up', () => {
  it('prints a kubeconfig under SLUICE_WORK_DIR and the operator command', () => {
    expect(kubeconfig).toBe(join(work.dir, 'kube', 'kubeconfig'));
    expect(up.output()).toContain('node dist/operator/main.js --kube --namespace sluice-system');
  });

  it.each(folders)('kubectl apply -f manifests/examples/%s works unchanged', async (folder) => {
    const r = await kubectl(['apply', '-f', join(EXAMPLES, folder)]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('gives the example Pods a container spec (their status, which the quickstart reads offline, is the kubelet\'s to set here)', async () => {
    const r = await kubectl(['get', 'pods', '-n', 'default', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image}{"\\n"}{end}']);
    const images = r.stdout.trim().split('\n');
    expect(images.length).toBeGreaterThanOrEqual(5);
    expect(new Set(images)).toEqual(new Set(['vllm/vllm-openai:v0.11.0']));
  });

  it('runs the operator with only KUBECONFIG set: routes Accepted, snapshot stored', async () => {
    await startNode('operator/main.js', ['--kube', '--namespace', 'sluice-system', '--debounce-ms', '50'], /operator watching the Kubernetes API/, 30_000, { KUBECONFIG: kubeconfig });
    await waitFor('the snapshot ConfigMap', async () => (await kubectl(['get', 'configmap', 'sluice-snapshot', '-n', 'sluice-system', '-o', 'name'])).code === 0, 20_000);
    const accepted = await waitFor('deepseek-simple Accepted=True', async () => {
      const r = await kubectl(['get', 'modelroute', 'deepseek-simple', '-n', 'default', '-o', 'jsonpath={.status.conditions[?(@.type=="Accepted")].status}']);
      return r.stdout === 'True' ? r.stdout : null;
    }, 20_000);
    expect(accepted).toBe('True');
  });

  it('stops etcd and kube-apiserver on SIGTERM and removes the kubeconfig', async () => {
    const exited = new Promise<number | null>((res) => up.child.once('exit', (code) => res(code)));
    up.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(kubeconfig)).toBe(false);
  });
});
