/**
 * A real Kubernetes API for tests and benchmarks: etcd and kube-apiserver (built from source by
 * `bash hack/kube/build.sh`) on loopback, with TLS from a throwaway CA, token authentication and
 * RBAC. No controllers, scheduler or kubelets run: objects are stored and served, nothing acts on
 * them. Every wait polls with a deadline; nothing sleeps for a fixed time.
 *
 *   const kube = await startKubeApiserver({ tokens: [{ token: 't', user: 'alice' }] });
 *   const r = await kube.kubectl(['get', 'ns']);
 *   await kube.stop();
 *
 * Processes still running are stopped at the end of the test file that started them (and when
 * the process exits), so a failing test does not leave them behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { runOpenssl, writeTestCerts } from '../test-certs';

/** The repository root (this file is hack/kube/*.ts, or dist/hack/kube/*.js when built). */
const ROOT = resolve(__dirname, '..', '..', ...(__dirname.includes(`${'/'}dist${'/'}`) ? ['..'] : []));

/** A temporary folder removed by `cleanup`. */
function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A bearer token the API server accepts, and who it authenticates as. */
export interface KubeToken {
  token: string;
  user: string;
  /** Defaults to the user name. */
  uid?: string;
  groups?: string[];
}

export interface KubeApiOptions {
  /** More tokens besides the admin's (fixed at start: the token file is read once). */
  tokens?: KubeToken[];
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. Later flags win. */
  apiserverArgs?: string[];
  /** Deadline for etcd + kube-apiserver to become ready. */
  startTimeoutMs?: number;
  /** Folder holding etcd, kube-apiserver and kubectl; defaults to the build script's. */
  binDir?: string;
  /** Keep the temp folder (certificates, logs, etcd data) after stop. */
  keepDir?: boolean;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Kubeconfig to use; defaults to the admin's. */
  kubeconfig?: string;
  /** Text for kubectl's standard input (e.g. with `apply -f -`). */
  input?: string;
  timeoutMs?: number;
}

/** A running etcd + kube-apiserver. */
export interface KubeApi {
  /** https://127.0.0.1:<port> */
  url: string;
  /** CA certificate (PEM file) that signed the serving certificate. */
  caFile: string;
  /** Kubeconfig file for the admin token (group system:masters). */
  kubeconfig: string;
  adminToken: string;
  /** Temp folder with certificates, logs (etcd.log, kube-apiserver.log) and etcd's data. */
  dir: string;
  /** Writes a kubeconfig for `token` (one of opts.tokens, or a service-account token) and returns its path. */
  writeKubeconfig(token: string, name?: string): string;
  /** Runs the real kubectl against this API server. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** The last lines of the etcd and kube-apiserver logs. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

/** Where hack/kube/build.sh puts its binaries. */
export function kubeBinDir(): string {
  if (process.env.SLUICE_KUBE_BIN) return process.env.SLUICE_KUBE_BIN;
  return join(process.env.SLUICE_KUBE_CACHE || join(homedir(), '.cache', 'sluice-kube'), 'bin');
}

const BUILD_HINT = 'run `bash hack/kube/build.sh` (builds kube-apiserver and etcd from source, about 10 min the first time; see hack/kube/README.md)';

/**
 * Checks that the three binaries exist and were built at the versions hack/kube/build.sh pins now,
 * so a version bump in the script is not silently tested against old binaries.
 */
export function checkKubeBinaries(binDir = kubeBinDir()): { etcd: string; apiserver: string; kubectl: string } {
  const script = readFileSync(join(ROOT, 'hack', 'kube', 'build.sh'), 'utf8');
  const pinned = (name: string) => script.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1] ?? '?';
  const want: [string, string][] = [
    ['etcd', pinned('ETCD_VERSION')],
    ['kube-apiserver', pinned('K8S_VERSION')],
    ['kubectl', pinned('KUBECTL_NPM')],
  ];
  const problems: string[] = [];
  for (const [bin, version] of want) {
    const path = join(binDir, bin);
    const stamp = join(binDir, `.${bin}.stamp`);
    if (!existsSync(path)) problems.push(`${path} is missing`);
    else if (!existsSync(stamp) || !readFileSync(stamp, 'utf8').includes(` ${version} `)) problems.push(`${path} is not the pinned ${version}`);
  }
  if (problems.length) throw new Error(`real Kubernetes binaries not ready (${problems.join('; ')}): ${BUILD_HINT}`);
  return { etcd: join(binDir, 'etcd'), apiserver: join(binDir, 'kube-apiserver'), kubectl: join(binDir, 'kubectl') };
}

// ---- processes ------------------------------------------------------------------------------

interface Daemon {
  name: string;
  child: ChildProcess;
  log: string;
  exited(): boolean;
  stop(): Promise<void>;
}

const daemons = new Set<Daemon>();
const apis = new Set<KubeApi>();

function startDaemon(name: string, bin: string, args: string[], log: string): Daemon {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const gone = new Promise<void>((res) => child.once('exit', () => { exited = true; res(); }));
  child.once('error', () => { exited = true; });
  const d: Daemon = {
    name,
    child,
    log,
    exited: () => exited || child.exitCode !== null || child.signalCode !== null,
    stop: async () => {
      daemons.delete(d);
      if (d.exited()) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(killer);
    },
  };
  daemons.add(d);
  return d;
}

// A test file that forgets (or fails before) stop() must not leave an apiserver running: jest
// evaluates this module once per test file, so this afterAll belongs to the file importing it.
try {
  const jestAfterAll = (globalThis as { afterAll?: (fn: () => Promise<void>, timeout?: number) => void }).afterAll;
  if (typeof jestAfterAll === 'function') jestAfterAll(() => stopAllKubeApis(), 30_000);
} catch {
  // imported from inside a test, where hooks cannot be added: the exit hook below still applies
}
process.once('exit', () => {
  for (const d of daemons) d.child.kill('SIGKILL');
});

/** Stops every API server this process started. */
export async function stopAllKubeApis(): Promise<void> {
  await Promise.all([...apis].map((a) => a.stop()));
  await Promise.all([...daemons].map((d) => d.stop()));
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

async function freePorts(n: number): Promise<number[]> {
  // All held open at once so they are distinct; another process may still take one before we
  // bind it, which start() handles by retrying with new ports.
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---- certificates ---------------------------------------------------------------------------

/** A CA, a serving certificate for 127.0.0.1/localhost signed by it, and a service-account key pair. */
async function makeCerts(dir: string): Promise<void> {
  await writeTestCerts(dir, {
    ca: true, commonName: 'kube-apiserver',
    dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  });
  await runOpenssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key'], dir);
  await runOpenssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

// ---- start ----------------------------------------------------------------------------------

class StartError extends Error {
  constructor(message: string, readonly portClash: boolean) {
    super(message);
  }
}

/** Starts etcd and kube-apiserver and resolves once the API is ready and its system namespaces exist. */
export async function startKubeApiserver(opts: KubeApiOptions = {}): Promise<KubeApi> {
  const bins = checkKubeBinaries(opts.binDir);
  const tmp = tempDir('kube');
  const started = Date.now();
  try {
    await makeCerts(tmp.dir);
    const adminToken = randomBytes(16).toString('hex');
    const tokens: KubeToken[] = [{ token: adminToken, user: 'sluice-test-admin', groups: ['system:masters'] }, ...(opts.tokens ?? [])];
    const csv = (s: string) => (/[",\s]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    writeFileSync(join(tmp.dir, 'tokens.csv'), tokens.map((t) => [t.token, t.user, t.uid ?? t.user, (t.groups ?? []).join(',')].map(csv).join(',')).join('\n') + '\n');
    // Ports can be taken between choosing and binding them (other test files start servers too):
    // try again with new ones.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(tmp, bins, adminToken, opts, started);
      } catch (err) {
        if (!(err instanceof StartError && err.portClash && attempt < 3)) throw err;
      }
    }
  } catch (err) {
    if (!opts.keepDir) tmp.cleanup();
    throw err;
  }
}

async function startOnce(tmp: { dir: string; cleanup: () => void }, bins: ReturnType<typeof checkKubeBinaries>, adminToken: string, opts: KubeApiOptions, started: number): Promise<KubeApi> {
  const dir = tmp.dir;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcdLog = join(dir, 'etcd.log');
  const apiLog = join(dir, 'kube-apiserver.log');
  const etcdData = join(dir, `etcd-data-${etcdClient}`);
  const etcd = startDaemon('etcd', bins.etcd, [
    '--name=sluice-test',
    `--data-dir=${etcdData}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=sluice-test=http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster-state=new',
    // Test data: losing it on a crash is fine, and fsync is what makes etcd slow on shared disks.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ], etcdLog);
  const url = `https://127.0.0.1:${apiPort}`;
  const caFile = join(dir, 'ca.crt');
  const agent = new Agent({ connect: { ca: readFileSync(caFile) } });
  let apiserver: Daemon | undefined;
  const fail = async (what: string): Promise<never> => {
    const logs = `--- etcd.log (last 40 lines) ---\n${tail(etcdLog, 40)}\n--- kube-apiserver.log (last 80 lines) ---\n${tail(apiLog, 80)}`;
    const clash = /address already in use/.test(logs);
    await apiserver?.stop();
    await etcd.stop();
    await agent.close();
    throw new StartError(`kube-apiserver test cluster: ${what} (after ${Date.now() - started}ms${opts.keepDir ? `; files kept in ${dir}` : ''})\n${logs}`, clash);
  };
  /** Polls `check` until true, failing fast if a process died or the deadline passed. */
  const until = async (what: string, check: () => Promise<boolean>) => {
    let last = '';
    while (true) {
      for (const d of [etcd, apiserver]) if (d?.exited()) return fail(`${d.name} exited (code ${d.child.exitCode}, signal ${d.child.signalCode}) while waiting for ${what}`);
      try {
        if (await check()) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) return fail(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const get = async (base: string, path: string, dispatcher?: Agent) => {
    const res = await request(`${base}${path}`, { dispatcher, headers: { authorization: `Bearer ${adminToken}` }, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  };

  await until('etcd /health', async () => {
    const r = await get(etcdUrl, '/health');
    return r.status === 200 && /"health":\s*"true"/.test(r.body);
  });

  apiserver = startDaemon('kube-apiserver', bins.apiserver, [
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    // Nothing listens on a cluster IP here, and Endpoints may not hold loopback addresses, so the
    // `kubernetes` Service gets no endpoints instead of a reconcile error every few seconds.
    '--advertise-address=127.0.0.1',
    '--endpoint-reconciler-type=none',
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${join(dir, 'server.crt')}`,
    `--tls-private-key-file=${join(dir, 'server.key')}`,
    `--client-ca-file=${caFile}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    // Only an allocation range in etcd: no traffic goes to it.
    '--service-cluster-ip-range=10.0.0.0/24',
    // ServiceAccount admission makes every Pod wait for its namespace's `default` ServiceAccount,
    // which the (absent) controller manager would create.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--profiling=false',
    ...(opts.apiserverArgs ?? []),
  ], apiLog);

  await until('kube-apiserver /readyz', async () => (await get(url, '/readyz', agent)).status === 200);
  // The system namespaces are created by a controller inside the apiserver, after /readyz may pass.
  await until('namespaces default and kube-system', async () =>
    (await get(url, '/api/v1/namespaces/default', agent)).status === 200 && (await get(url, '/api/v1/namespaces/kube-system', agent)).status === 200);
  await agent.close();

  const kubeCacheDir = join(dir, 'kubectl-cache');
  mkdirSync(kubeCacheDir, { recursive: true });
  const writeKubeconfig = (token: string, name = `user-${randomBytes(4).toString('hex')}`): string => {
    const file = join(dir, `kubeconfig-${name}`);
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sluice-test', cluster: { server: url, 'certificate-authority': caFile } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: 'sluice-test', user: name, namespace: 'default' } }],
      'current-context': name,
    }, null, 2), { mode: 0o600 });
    return file;
  };
  const kubeconfig = writeKubeconfig(adminToken, 'admin');

  const kubectl = (args: string[], o: KubectlOptions = {}): Promise<KubectlResult> => new Promise((res, rej) => {
    const child = spawn(bins.kubectl, [`--kubeconfig=${o.kubeconfig ?? kubeconfig}`, `--cache-dir=${kubeCacheDir}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timeoutMs = o.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`kubectl ${args.join(' ')} timed out after ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); rej(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });

  let stopped: Promise<void> | undefined;
  const api: KubeApi = {
    url,
    caFile,
    kubeconfig,
    adminToken,
    dir,
    writeKubeconfig,
    kubectl,
    logs: (lines = 40) => `--- etcd.log ---\n${tail(etcdLog, lines)}\n--- kube-apiserver.log ---\n${tail(apiLog, lines)}`,
    stop: () => {
      stopped ??= (async () => {
        apis.delete(api);
        await apiserver!.stop();
        await etcd.stop();
        if (!opts.keepDir) tmp.cleanup();
      })();
      return stopped;
    },
  };
  apis.add(api);
  return api;
}
