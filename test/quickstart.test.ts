/**
 * The README's first command: `npm start` (dist/hack/quickstart.js) brings up the simulator, the
 * operator and a data plane, and the curl lines it prints work as printed. An edit in the watched
 * folder reroutes traffic without a restart; an invalid edit is reported in the terminal. Through
 * npm, the stack watches a copy of the examples in the work dir and SIGTERM to npm stops all of
 * it; a port in use makes it exit non-zero. Spare ports; one quickstart at a time (the simulated
 * pods share fixed loopback addresses).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { ROOT, tempDir, waitFor } from './helpers/processes';

jest.setTimeout(60_000);

const tmp = tempDir('quickstart');
const baseEnv = (work: string, port: number) => ({ ...process.env, SLUICE_WORK_DIR: join(tmp.dir, work), SLUICE_PORT: String(port), SLUICE_ADMIN_PORT: String(port + 1), SLUICE_TIME_SCALE: '20' });

afterAll(() => tmp.cleanup());

/** A running child with its merged output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** True when something accepts connections on host:port. */
const listening = (host: string, port: number) => new Promise<boolean>((r) => {
  const s = connect(port, host);
  s.once('connect', () => { s.destroy(); r(true); });
  s.once('error', () => r(false));
});

describe('npm start', () => {
  const dir = join(tmp.dir, 'quickstart');
  let qs: ReturnType<typeof run>;

  beforeAll(async () => {
    cpSync(join(ROOT, 'manifests', 'examples', 'quickstart'), dir, { recursive: true });
    qs = run(process.execPath, [join(ROOT, 'dist', 'hack', 'quickstart.js')], { ...baseEnv('work', 18080), SLUICE_QUICKSTART_DIR: dir });
    await waitFor('quickstart to print its curl lines', () => qs.out().includes('Ctrl-C stops everything'), 30_000);
  });

  afterAll(async () => {
    if (qs.child.exitCode === null) {
      qs.child.kill('SIGINT');
      expect(await qs.exited).toBe(0);
    }
  });

  const curlLines = () => qs.out().split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl ') || l.startsWith('for i in'));
  const sh = (line: string) => execFileSync('bash', ['-c', line], { encoding: 'utf8', timeout: 20_000 });

  it('prints eight curl lines that all work as printed', () => {
    const lines = curlLines();
    expect(lines).toHaveLength(8);
    const [simple, lora, premium, subset, stream, models, kv, kvDump] = lines.map(sh);
    expect(JSON.parse(simple!).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    expect(JSON.parse(lora!).model).toBe('lora-A');
    expect(JSON.parse(premium!).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
    expect(subset).toMatch(/7 "model":"deepseek-ai\/DeepSeek-R1-Distill-Qwen-1.5B-v1"/);
    expect(subset).toMatch(/3 "model":"deepseek-ai\/DeepSeek-R1-Distill-Qwen-1.5B-v2"/);
    expect(stream).toMatch(/"object":"chat.completion.chunk"/);
    expect(stream!.trim().endsWith('data: [DONE]')).toBe(true);
    expect(JSON.parse(models!).data.map((m: { id: string }) => m.id)).toContain('lora-B');
    // Precise scheduling: the pod that served has published the prompt's blocks, and every pod is followed.
    expect(JSON.parse(kv!).model).toBe('Qwen/Qwen3-8B');
    const dump = JSON.parse(kvDump!) as { subscriptions: { address: string }[] };
    expect(dump.subscriptions.map((s) => s.address).sort()).toEqual(['tcp://127.0.0.51:5557', 'tcp://127.0.0.52:5557', 'tcp://127.0.0.53:5557']);
  });

  it('follows an edit of the watched folder without a restart', async () => {
    const file = join(dir, 'modelroute-simple.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"deepseek-r1-1-5b"', '"deepseek-r1-7b"'));
    const simple = curlLines()[0]!;
    await waitFor('deepseek-simple to be served by the 7B model', () => JSON.parse(sh(simple)).model === 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', 10_000, 100);
  });

  it('reports an invalid edit in the terminal, and when it is fixed', async () => {
    const file = join(dir, 'modelroute-subset.yaml');
    const good = readFileSync(file, 'utf8');
    const bad = good.replace(/weight: 70/, 'weight: 700');
    expect(bad).not.toBe(good);
    writeFileSync(file, bad);
    await waitFor('the problem in the terminal', () => /\[folder\] modelroute-subset\.yaml: ModelRoute default\/deepseek-subset spec\.rules\[0\]\.targetModels\[0\]\.weight: must be at most 100 \(got number 700\)/.test(qs.out()), 10_000, 100);
    writeFileSync(file, good);
    await waitFor('the all-clear in the terminal', () => qs.out().includes(`[folder] every file in ${dir} is valid again`), 10_000, 100);
  });
});

describe('npm run quickstart (what npm start runs after the build)', () => {
  it('watches a fresh copy in the work dir and prints its path; SIGTERM to npm stops every process', async () => {
    const work = join(tmp.dir, 'npm-work');
    const env: NodeJS.ProcessEnv = { ...baseEnv('npm-work', 18090) };
    delete env.SLUICE_QUICKSTART_DIR;
    const qs = run('npm', ['run', '--silent', 'quickstart'], env);
    await waitFor('quickstart to print its curl lines', () => qs.out().includes('Ctrl-C stops everything'), 30_000);
    const copy = join(work, 'quickstart');
    expect(qs.out()).toContain(`the operator watching\n  ${copy}\n`);
    expect(qs.out()).toContain(`a fresh copy of ${join(ROOT, 'manifests', 'examples', 'quickstart')}`);
    expect(existsSync(join(copy, 'modelroute-simple.yaml'))).toBe(true);
    expect(await listening('127.0.0.1', 18090)).toBe(true);
    expect(await listening('127.0.0.11', 8000)).toBe(true);

    qs.child.kill('SIGTERM');
    await qs.exited;
    // Every child went with it: the data plane's port and a simulated pod's address are free.
    await waitFor('the data plane and the simulator to be gone', async () => !(await listening('127.0.0.1', 18090)) && !(await listening('127.0.0.11', 8000)), 10_000, 100);
  });
});

describe('a failed start', () => {
  let holder: Server;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((r) => holder.listen(18100, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => holder.close(() => r())));

  it('exits non-zero when the data plane port is taken, saying why', async () => {
    const qs = run(process.execPath, [join(ROOT, 'dist', 'hack', 'quickstart.js')], baseEnv('taken-work', 18100));
    const code = await qs.exited;
    expect(code).not.toBe(0);
    expect(qs.out()).toMatch(/EADDRINUSE: address already in use 127\.0\.0\.1:18100/);
    // It stopped what it had started.
    await waitFor('the simulator to be gone', async () => !(await listening('127.0.0.11', 8000)), 10_000, 100);
  });
});
