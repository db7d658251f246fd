#!/usr/bin/env node
/**
 * `npm start`: Sluice on one machine. Starts the engine simulator (one process, one listener per
 * Pod in the folder), one data plane on :8080 and the operator watching
 * manifests/examples/quickstart, then prints curl lines that work. Ctrl-C stops everything.
 *
 * Options (environment): SLUICE_QUICKSTART_DIR (folder to serve), SLUICE_PORT (default 8080),
 * SLUICE_ADMIN_PORT (default 8081), SLUICE_TIME_SCALE (simulator speed-up, default 1),
 * SLUICE_WORK_DIR (logs, snapshot and status; default .sluice in the repository).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { DirectorySource } from '../operator/sources/directory-source';
import { simPodsFor, simTokenizerFor } from './sim-pods';

const root = resolve(__dirname, '..', '..');
const dir = resolve(process.env.SLUICE_QUICKSTART_DIR ?? join(root, 'manifests', 'examples', 'quickstart'));
const port = Number(process.env.SLUICE_PORT ?? 8080);
const adminPort = Number(process.env.SLUICE_ADMIN_PORT ?? 8081);
const work = resolve(process.env.SLUICE_WORK_DIR ?? join(root, '.sluice'));
const logs = join(work, 'logs');
mkdirSync(logs, { recursive: true });

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
function stop(code: number): void {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 300).unref();
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; logs are in ${logs}`);
}

async function main(): Promise<void> {
  const { objects, issues } = new DirectorySource(dir).load();
  for (const i of issues) console.error(`${i.file}: ${i.object} ${i.path}: ${i.message}`);
  const pods = simPodsFor(objects);
  const simConfig = join(work, 'engine-sim.json');
  writeFileSync(simConfig, JSON.stringify({ pods, timeScale: Number(process.env.SLUICE_TIME_SCALE ?? 1), tokenizer: simTokenizerFor(objects) }, null, 2));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(work, 'push-token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const snapshotFile = join(work, 'snapshot.json');
  const statusFile = join(work, 'status.json');
  rmSync(statusFile, { force: true });

  const sim = start('engine-sim', 'hack/engine-sim/main.js', ['--config', simConfig]);
  await new Promise<void>((resolveReady, reject) => {
    let buf = '';
    sim.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('engine-sim ready')) resolveReady();
    });
    sim.once('exit', () => reject(new Error(`engine simulator failed; see ${join(logs, 'engine-sim.log')}`)));
  });
  start('dataplane', 'dataplane/main.js', ['--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--push-token-file', tokenFile, '--snapshot-file', snapshotFile]);
  await waitFor('the data plane', async () => (await request(`http://127.0.0.1:${adminPort}/healthz`)).statusCode === 200);
  start('operator', 'operator/main.js', ['--watch-dir', dir, '--snapshot-out', snapshotFile, '--status-out', statusFile, '--push-url', `http://127.0.0.1:${adminPort}`, '--push-token-file', tokenFile]);
  // The data plane may start serving the previous run's snapshot file at once; wait until it
  // serves what the operator compiled from the folder as it is now.
  await waitFor('the operator\'s snapshot to be applied', async () => {
    if (!existsSync(statusFile)) return false;
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { snapshot: { hash: string } };
    const res = await request(`http://127.0.0.1:${adminPort}/v1/snapshot`);
    const serving = (await res.body.json()) as { hash?: string };
    return serving.hash === status.snapshot.hash;
  });

  const url = `http://127.0.0.1:${port}`;
  // The debug dumps need the push (or a read) token; the line reads it from the file, so the
  // token itself never lands in the terminal's scroll-back.
  const curl = (model: string, extra = '') => `curl -s ${url}/v1/completions -H 'Content-Type: application/json'${extra} -d '{"model": "${model}", "prompt": "San Francisco is a", "temperature": 0}'`;
  console.log(`
Sluice is running: ${pods.length} simulated engine pods, one data plane, the operator watching
  ${dir}

Try it:
  ${curl('deepseek-simple')}
  ${curl('lora-A')}
  ${curl('deepseek-multi-models', " -H 'user-type: premium'")}
  for i in $(seq 1 10); do ${curl('deepseek-subset')} | grep -o '"model":"[^"]*"'; done | sort | uniq -c
  curl -sN ${url}/v1/chat/completions -H 'Content-Type: application/json' -d '{"model": "deepseek-simple", "messages": [{"role": "user", "content": "Hi"}], "stream": true}'
  curl -s ${url}/v1/models
  ${curl('qwen3-kv')}
  curl -s http://127.0.0.1:${adminPort}/debug/config_dump/kvevents -H "Authorization: Bearer $(cat '${tokenFile}')"

Edit a YAML file in that folder and routing follows within a second.
Metrics: curl -s http://127.0.0.1:${adminPort}/metrics   Status: cat ${join(work, 'status.json')}
Logs: ${logs}/   Ctrl-C stops everything.
`);
}

main().catch((err: Error) => {
  console.error(err.message);
  stop(1);
});
