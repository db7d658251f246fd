#!/usr/bin/env node
/**
 * `npm start`: Sluice on one machine. Starts the engine simulator (one process, one listener per
 * Pod in the folder that a ModelServer selects; none when there is no such Pod), one data plane on
 * :8080 and the operator watching a copy of manifests/examples/quickstart in the work dir (so
 * edits never touch tracked files). Once the data plane serves the folder's snapshot, prints curl
 * lines derived from it (hack/quickstart-lines.ts): one per served model and adapter, each with
 * the path, headers and API key it needs, and notes naming the Pods the simulator does not play
 * and the names left out. Problems in edited files are printed as they appear. Ctrl-C or SIGTERM
 * stops everything; any failure (a port in use, a process that dies) exits non-zero.
 *
 * Options (environment): SLUICE_QUICKSTART_DIR (folder to watch as it is, instead of a fresh copy
 * of the quickstart examples), SLUICE_PORT (default 8080), SLUICE_ADMIN_PORT (default 8081),
 * SLUICE_TIME_SCALE (simulator speed-up, default 1), SLUICE_WORK_DIR (logs, snapshot, status and
 * the copied folder; default .sluice in the repository).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { DirectorySource, type FileIssue } from '../operator/sources/directory-source';
import type { RoutingSnapshot } from '../shared/snapshot/schema';
import { credentialFor } from './quickstart-credential';
import { MAX_NOTES, tryItLines } from './quickstart-lines';
import { simPodsFor, simTokenizerFor, unplayedPods } from './sim-pods';

const root = resolve(__dirname, '..', '..');
const examples = join(root, 'manifests', 'examples', 'quickstart');
const port = Number(process.env.SLUICE_PORT ?? 8080);
const adminPort = Number(process.env.SLUICE_ADMIN_PORT ?? 8081);
const work = resolve(process.env.SLUICE_WORK_DIR ?? join(root, '.sluice'));
const logs = join(work, 'logs');
mkdirSync(logs, { recursive: true });
// The examples are tracked files: watch a fresh copy, so trying an edit never dirties the tree.
const copied = process.env.SLUICE_QUICKSTART_DIR === undefined;
const dir = copied ? join(work, 'quickstart') : resolve(process.env.SLUICE_QUICKSTART_DIR!);
if (copied) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(examples, dir, { recursive: true });
}

const children: ChildProcess[] = [];
function start(name: string, script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(root, 'dist', script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(logs, `${name}.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); see ${join(logs, `${name}.log`)}`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
/**
 * Stops every child and exits once all are gone, with `code` (the first non-zero code wins). The
 * exit code is set at once: after a child's death nothing may keep the event loop alive, and
 * Node would otherwise exit 0 before any timer fired.
 */
function stop(code: number): void {
  if (code !== 0 || process.exitCode === undefined) process.exitCode = process.exitCode || code;
  if (stopping) return;
  stopping = true;
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of alive) c.kill('SIGTERM');
  // A child that ignores SIGTERM for 5 s is killed; this timer also keeps the process alive.
  const force = setTimeout(() => { for (const c of alive) c.kill('SIGKILL'); }, 5_000);
  void Promise.all(alive.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))))).then(() => {
    clearTimeout(force);
    process.exit();
  });
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));
process.once('SIGHUP', () => stop(0));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) throw new Error(`stopped while waiting for ${what}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; logs are in ${logs}`);
}

async function main(): Promise<void> {
  const { objects, issues } = new DirectorySource(dir).load();
  const shown = new Set(issues.map(describeIssue));
  for (const line of shown) console.error(line);
  const pods = simPodsFor(objects);
  const simConfig = join(work, 'engine-sim.json');
  writeFileSync(simConfig, JSON.stringify({ pods, timeScale: Number(process.env.SLUICE_TIME_SCALE ?? 1), tokenizer: simTokenizerFor(objects) }, null, 2));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(work, 'push-token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const snapshotFile = join(work, 'snapshot.json');
  const statusFile = join(work, 'status.json');
  rmSync(statusFile, { force: true });

  // The simulator refuses to start without a pod; a folder of routes or configuration alone still runs.
  if (pods.length > 0) {
    const sim = start('engine-sim', 'hack/engine-sim/main.js', ['--config', simConfig]);
    await new Promise<void>((resolveReady, reject) => {
      let buf = '';
      sim.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('engine-sim ready')) resolveReady();
      });
      sim.once('exit', () => reject(new Error(`engine simulator failed; see ${join(logs, 'engine-sim.log')}`)));
    });
  }
  start('dataplane', 'dataplane/main.js', ['--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--push-token-file', tokenFile, '--snapshot-file', snapshotFile]);
  await waitFor('the data plane', async () => (await request(`http://127.0.0.1:${adminPort}/healthz`)).statusCode === 200);
  start('operator', 'operator/main.js', ['--watch-dir', dir, '--snapshot-out', snapshotFile, '--status-out', statusFile, '--push-url', `http://127.0.0.1:${adminPort}`, '--push-token-file', tokenFile]);
  // The data plane may start serving the previous run's snapshot file at once; wait until it
  // serves what the operator compiled from the folder as it is now. The whole snapshot (it needs
  // the push token) is what the printed lines are derived from.
  let snapshot: RoutingSnapshot | undefined;
  await waitFor('the operator\'s snapshot to be applied', async () => {
    if (!existsSync(statusFile)) return false;
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { snapshot: { hash: string } };
    const res = await request(`http://127.0.0.1:${adminPort}/v1/snapshot?full=1`, { headers: { authorization: `Bearer ${token}` } });
    const serving = (await res.body.json()) as RoutingSnapshot;
    if (serving.hash !== status.snapshot.hash) return false;
    snapshot = serving;
    return true;
  });

  // Request and debug lines read credentials from files, so no key or token lands in the scroll-back.
  const { lines, notes } = tryItLines({
    snapshot: snapshot!,
    pods,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    tokenFile,
    credential: credentialFor(snapshot!.auth, join(work, 'api-key')),
  });
  const unplayed = unplayedPods(objects);
  const indent = (list: string[]) => list.map((l) => `  ${l}`).join('\n');
  console.log(`
Sluice is running: ${pods.length} simulated engine pods, one data plane, the operator watching
  ${dir}
${unplayed.length > 0 ? `
The simulator does not play ${unplayed.length} Pod(s) of the folder; requests routed to them fail:
${indent([...unplayed.slice(0, MAX_NOTES).map((u) => `${u.pod}: ${u.why}`), ...(unplayed.length > MAX_NOTES ? [`and ${unplayed.length - MAX_NOTES} more`] : [])])}
` : ''}
Try it:
${indent([...lines, ...notes.map((n) => `# ${n}`)])}

Edit a YAML file in that folder and routing follows within a second; problems are printed here.${copied ? `
The folder is a fresh copy of ${examples}, made at each start.` : ''}
Metrics: curl -s http://127.0.0.1:${adminPort}/metrics   Status: cat ${join(work, 'status.json')}
Logs: ${logs}/   Ctrl-C stops everything.
`);
  reportFolderProblems(statusFile, shown);
}

/** One problem of the watched folder, as a terminal line. */
function describeIssue(i: FileIssue): string {
  return `${i.file}: ${i.object ? `${i.object} ` : ''}${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/**
 * Prints problems of the watched folder as the operator finds them (from its status file, which
 * lists every file problem of the last compile), and once when they are all fixed. The operator's
 * own log says the same, but in a file nobody watches while editing.
 */
function reportFolderProblems(statusFile: string, shown: Set<string>): void {
  let last = '';
  const timer = setInterval(() => {
    let text: string;
    try {
      text = readFileSync(statusFile, 'utf8');
    } catch {
      return;
    }
    if (text === last) return;
    last = text;
    let issues: FileIssue[];
    try {
      issues = (JSON.parse(text) as { issues?: FileIssue[] }).issues ?? [];
    } catch {
      return; // caught mid-write; the next tick reads it whole
    }
    const now = new Set(issues.map(describeIssue));
    for (const line of now) if (!shown.has(line)) console.error(`[folder] ${line}`);
    if (now.size === 0 && shown.size > 0) console.error(`[folder] every file in ${dir} is valid again`);
    shown.clear();
    for (const line of now) shown.add(line);
  }, 300);
  timer.unref();
}

main().catch((err: Error) => {
  console.error(err.message);
  stop(1);
});
