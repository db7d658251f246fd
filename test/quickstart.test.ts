/**
 * The README's first command: `npm start` (dist/hack/quickstart.js) brings up the simulator, the
 * operator and a data plane, and the curl lines it prints work as printed. An edit in the watched
 * folder reroutes traffic without a restart. Runs on a copy of the quickstart folder and spare ports.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, waitFor } from './helpers/processes';

let child: ChildProcess;
let out = '';
const tmp = tempDir('quickstart');
const dir = join(tmp.dir, 'quickstart');

beforeAll(async () => {
  cpSync(join(ROOT, 'manifests', 'examples', 'quickstart'), dir, { recursive: true });
  child = spawn(process.execPath, [join(ROOT, 'dist', 'hack', 'quickstart.js')], {
    env: { ...process.env, SLUICE_QUICKSTART_DIR: dir, SLUICE_WORK_DIR: join(tmp.dir, 'work'), SLUICE_PORT: '18080', SLUICE_ADMIN_PORT: '18081', SLUICE_TIME_SCALE: '20' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor('quickstart to print its curl lines', () => out.includes('Ctrl-C stops everything'), 30_000);
});

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    await exited;
  }
  tmp.cleanup();
});

const curlLines = () => out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl ') || l.startsWith('for i in'));
const sh = (line: string) => execFileSync('bash', ['-c', line], { encoding: 'utf8', timeout: 20_000 });

describe('npm start', () => {
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
});
