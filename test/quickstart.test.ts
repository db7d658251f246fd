/**
 * The README's first command: `npm start` (dist/hack/quickstart.js) brings up the simulator, the
 * operator and a data plane, and the curl lines it prints work as printed, for whichever folder
 * it runs: the quickstart examples, every other folder of manifests/examples, and a folder of
 * edge cases (API keys, regex, prefix and URI matches, pods the simulator does not play). Every
 * printed line is run with bash and the real curl binary, and every response must be 2xx. An
 * edit in the watched folder reroutes traffic without a restart; an invalid edit is reported in
 * the terminal. Through npm, the stack watches a copy of the examples in the work dir and SIGTERM
 * to npm stops all of it; a port in use makes it exit non-zero. Spare ports; one quickstart at a
 * time (the simulated pods share fixed loopback addresses).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { readyPodYaml } from '../hack/sim-pods';
import { example } from './helpers/cluster';
import { ROOT, tempDir, waitFor } from './helpers/processes';
import { apiKeyRouterConfig } from './hardening/support';

jest.setTimeout(60_000);

const tmp = tempDir('quickstart');
const baseEnv = (work: string, port: number) => ({ ...process.env, SLUICE_WORK_DIR: join(tmp.dir, work), SLUICE_PORT: String(port), SLUICE_ADMIN_PORT: String(port + 1), SLUICE_TIME_SCALE: '20' });

const started: Running[] = [];
afterAll(() => {
  // Whatever a failed test left running: every quickstart leads its own process group.
  for (const r of started) {
    try {
      process.kill(-r.child.pid!, 'SIGKILL');
    } catch {
      // ESRCH: that group is gone.
    }
  }
  tmp.cleanup();
});

type Running = { child: ChildProcess; out: () => string; exited: Promise<number | null> };

/** A running child, leader of its own process group, with its merged output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const running = { child, out: () => out, exited };
  started.push(running);
  return running;
}

/**
 * Stops a quickstart as Ctrl-C does (SIGINT to it; it stops its children) and returns its exit
 * code, then kills whatever of its process group is left, so no simulator outlives the test.
 */
async function stop(qs: Running): Promise<number | null> {
  if (qs.child.exitCode === null && qs.child.signalCode === null) qs.child.kill('SIGINT');
  const code = await qs.exited;
  try {
    process.kill(-qs.child.pid!, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is gone already.
  }
  return code;
}

/** Starts the quickstart on `port` (and port + 1), watching `dir`, and waits for its curl lines. */
async function startQuickstart(work: string, port: number, dir: string): Promise<Running> {
  const qs = run(process.execPath, [join(ROOT, 'dist', 'hack', 'quickstart.js')], { ...baseEnv(work, port), SLUICE_QUICKSTART_DIR: dir });
  await waitFor('quickstart to print its curl lines', () => qs.out().includes('Ctrl-C stops everything') || qs.child.exitCode !== null, 30_000);
  if (qs.child.exitCode !== null) throw new Error(`quickstart exited ${qs.child.exitCode}:\n${qs.out()}`);
  return qs;
}

/** The curl lines (and loops of them) a quickstart printed under "Try it". */
const curlLines = (out: string) => out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl ') || l.startsWith('for i in'));

/** The model names a line sends. */
const modelsOf = (line: string) => [...line.matchAll(/"model": "([^"]*)"/g)].map((m) => m[1]!);

/**
 * Runs a printed line as printed, with bash and the real curl binary, made to also write each
 * response's HTTP status to stderr (so stdout stays what the line prints). Throws when bash fails.
 */
function runLine(line: string): { stdout: string; statuses: number[] } {
  const r = spawnSync('bash', ['-c', `curl() { command curl -w '%{stderr}HTTP %{http_code}\\n' "$@"; }\n${line}`], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal} from: ${line}\n${r.stderr}`);
  return { stdout: r.stdout, statuses: [...r.stderr.matchAll(/^HTTP (\d{3})$/gm)].map((m) => Number(m[1])) };
}

/** Runs every line; each must make one request (ten for a loop) and every answer must be 2xx. */
function runAll(lines: string[]): string[] {
  return lines.map((line) => {
    const { stdout, statuses } = runLine(line);
    const failed = statuses.filter((s) => s < 200 || s > 299);
    expect({ line, requests: statuses.length, failed }).toEqual({ line, requests: line.startsWith('for i in') ? 10 : 1, failed: [] });
    return stdout;
  });
}

/** True when something accepts connections on host:port. */
const listening = (host: string, port: number) => new Promise<boolean>((r) => {
  const s = connect(port, host);
  s.once('connect', () => { s.destroy(); r(true); });
  s.once('error', () => r(false));
});

describe('npm start', () => {
  const dir = join(tmp.dir, 'quickstart');
  let qs: Running;

  beforeAll(async () => {
    cpSync(join(ROOT, 'manifests', 'examples', 'quickstart'), dir, { recursive: true });
    qs = await startQuickstart('work', 18080, dir);
  });

  afterAll(async () => {
    expect(await stop(qs)).toBe(0);
  });

  const lines = () => curlLines(qs.out());
  const sh = (line: string) => runLine(line).stdout;
  const lineFor = (model: string) => lines().find((l) => !l.includes('"stream"') && modelsOf(l).includes(model))!;

  it('prints a line per served name, a stream, the model list and the KV dump, all answering 2xx', () => {
    expect(lines()).toHaveLength(9);
    const [premium, simple, subset, kv, loraA, loraB, stream, models, kvDump] = runAll(lines());
    expect(lines()[0]).toContain("-H 'user-type: premium'");
    expect(JSON.parse(premium!).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B');
    expect(JSON.parse(simple!).model).toBe('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B');
    expect(subset).toMatch(/7 "model":"deepseek-ai\/DeepSeek-R1-Distill-Qwen-1.5B-v1"/);
    expect(subset).toMatch(/3 "model":"deepseek-ai\/DeepSeek-R1-Distill-Qwen-1.5B-v2"/);
    expect(JSON.parse(loraA!).model).toBe('lora-A');
    expect(JSON.parse(loraB!).model).toBe('lora-B');
    expect(modelsOf(lines()[6]!)).toEqual(['deepseek-simple']);
    expect(stream).toMatch(/"object":"chat.completion.chunk"/);
    expect(stream!.trim().endsWith('data: [DONE]')).toBe(true);
    expect(JSON.parse(models!).data.map((m: { id: string }) => m.id)).toEqual(['deepseek-multi-models', 'deepseek-simple', 'deepseek-subset', 'lora-A', 'lora-B', 'qwen3-kv']);
    // Precise scheduling: the pod that served has published the prompt's blocks, and every pod is followed.
    expect(JSON.parse(kv!).model).toBe('Qwen/Qwen3-8B');
    const dump = JSON.parse(kvDump!) as { subscriptions: { address: string }[] };
    expect(dump.subscriptions.map((s) => s.address).sort()).toEqual(['tcp://127.0.0.51:5557', 'tcp://127.0.0.52:5557', 'tcp://127.0.0.53:5557']);
    // Every pod of the folder is played, and every name has its line: nothing to note.
    expect(qs.out()).not.toContain('The simulator does not play');
    expect(qs.out()).not.toMatch(/^  # /m);
  });

  it('follows an edit of the watched folder without a restart', async () => {
    const file = join(dir, 'modelroute-simple.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"deepseek-r1-1-5b"', '"deepseek-r1-7b"'));
    const simple = lineFor('deepseek-simple');
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

const KEY = 'sk-quickstart-edge-5c1e9a3f7b2d';
const route = (name: string, rule: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: ${name}, namespace: default}
spec:
  modelName: ${name}
  rules:
  - ${rule}
`;
const server = (name: string, model: string | null) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: ${name}, namespace: default}
spec:
  workloadSelector: {matchLabels: {app: ${name}}}
  ${model ? `model: ${model}` : ''}
  inferenceEngine: vLLM
`;

/**
 * A folder of edge cases: API keys required (a plain key in the key file), header matches by
 * regex and prefix, a chat-only URI match, a regex no value is built for, a server whose pod the
 * simulator does not play, one without a model (the engine is asked for the route's name, which it
 * does not serve), a pod no ModelServer selects, and nine served names (one more than printed).
 */
function edgeFolder(): string {
  const dir = join(tmp.dir, 'edge');
  mkdirSync(join(tmp.dir, 'keys'), { recursive: true });
  const keyFile = join(tmp.dir, 'keys', 'keys.yaml'); // outside the folder: the operator would read it as an object
  writeFileSync(keyFile, `keys:\n- id: team-a\n  key: ${KEY}\n`);
  const files: Record<string, string> = {
    'router-config.yaml': apiKeyRouterConfig(keyFile),
    'edge-servers.yaml': [server('broken', 'broken/model'), server('plain', null)].join('---\n'),
    'edge-pods.yaml': [
      readyPodYaml('broken-0', { app: 'broken' }, '127.0.0.61', { annotations: { 'sim.sluice.dev/serve': 'false' } }),
      readyPodYaml('orphan-0', { app: 'nobody' }, '127.0.0.62'),
      readyPodYaml('plain-0', { app: 'plain' }, '127.0.0.63'),
    ].join('---\n'),
    'edge-routes.yaml': [
      route('regex-model', "modelMatch: {headers: {x-tier: {regex: '^(gold|silver)-[0-9]+$'}}}\n    targetModels: [{modelServerName: deepseek-r1-7b}]"),
      route('prefix-model', 'modelMatch: {headers: {x-team: {prefix: team-}}}\n    targetModels: [{modelServerName: deepseek-r1-7b}]'),
      route('chat-only', 'modelMatch: {uri: {prefix: /v1/chat/}}\n    targetModels: [{modelServerName: deepseek-r1-1-5b}]'),
      route('lookahead-model', "modelMatch: {headers: {x-a: {regex: '^(?=x)y'}}}\n    targetModels: [{modelServerName: deepseek-r1-1-5b}]"),
      route('broken-model', 'targetModels: [{modelServerName: broken}]'),
      route('nomodel', 'targetModels: [{modelServerName: plain}]'),
      route('extra-model', 'targetModels: [{modelServerName: deepseek-r1-1-5b}]'),
    ].join('---\n'),
  };
  for (const f of ['modelservers.yaml', 'pods.yaml', 'modelroute-simple.yaml', 'modelroute-multi-models.yaml', 'modelroute-subset.yaml', 'modelroute-lora.yaml']) files[f] = example(f);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const examplesDir = join(ROOT, 'manifests', 'examples');

/** A folder the quickstart runs, what it must print, and the port it runs on. */
interface FolderCase {
  name: string;
  dir: () => string;
  port: number;
  /** The names the request lines send, in order. */
  names: string[];
  /** Lines (or parts of lines) the output must hold. */
  shows: (string | RegExp)[];
  /** More checks, given the output, the lines and the work dir. */
  also?: (out: string, lines: string[], work: string) => void;
}

const FOLDERS: FolderCase[] = [
  { name: 'pd-disaggregation', dir: () => join(examplesDir, 'pd-disaggregation'), port: 18110, names: ['deepseek-r1-1-5b-pd-disaggregation', 'deepseek-r1-1-5b-pd-disaggregation'], shows: [] },
  { name: 'inference-pool', dir: () => join(examplesDir, 'inference-pool'), port: 18120, names: [], shows: ['Sluice is running: 0 simulated engine pods', '  # not printed, vllm-app: default/vllm-app-pool has no Running and Ready pod\n'] },
  { name: 'scheduler', dir: () => join(examplesDir, 'scheduler'), port: 18130, names: [], shows: ['  # the folder has no ModelRoute, so no model is served\n'] },
  {
    name: 'external-provider', dir: () => join(examplesDir, 'external-provider'), port: 18150, names: [],
    shows: ['  # not printed, deepseek: rule default sends to ExternalModelProvider default/deepseek-provider (https://api.deepseek.com), which the simulator does not play\n'],
  },
  {
    name: 'edge cases',
    dir: edgeFolder,
    port: 18140,
    names: ['chat-only', 'deepseek-multi-models', 'deepseek-simple', 'deepseek-subset', 'extra-model', 'prefix-model', 'regex-model', 'lora-A', 'chat-only'],
    shows: [
      'The simulator does not play 2 Pod(s) of the folder; requests routed to them fail:\n  default/broken-0: its annotation sim.sluice.dev/serve is "false"\n  default/orphan-0: no ModelServer selects it\n',
      /curl -s http:\/\/127\.0\.0\.1:18140\/v1\/chat\/completions .* -d '\{"model": "chat-only", "messages"/,
      "-H 'x-tier: gold-0'",
      "-H 'x-team: team-'",
      '  # 1 more served name(s) not shown; the /v1/models line lists them all\n',
      "  # not printed, broken-model: default/broken's pod default/broken-0 (127.0.0.61:8000) is not played by the simulator\n",
      '  # not printed, lookahead-model: no value could be built for header x-a, which must match the regex ^(?=x)y\n',
      "  # not printed, nomodel: default/plain's pod default/plain-0 serves plain, not nomodel\n",
    ],
    also: (out, lines, work) => {
      // The key reaches the lines through a file only the user reads, never the terminal.
      const auth = `-H "Authorization: Bearer $(cat '${join(work, 'api-key')}')"`;
      expect(lines.filter((l) => !l.includes(auth))).toEqual([]);
      expect(readFileSync(join(work, 'api-key'), 'utf8')).toBe(KEY);
      expect(out).not.toContain(KEY);
      // Without it the same request is refused: the header is what makes the lines work.
      expect(runLine(lines.find((l) => modelsOf(l)[0] === 'deepseek-simple')!.replace(` ${auth}`, '')).statuses).toEqual([401]);
    },
  },
];

describe('every folder of manifests/examples', () => {
  it('has a quickstart run in this file', () => {
    const covered = ['quickstart', ...FOLDERS.map((f) => f.name)];
    expect(readdirSync(examplesDir).filter((d) => !covered.includes(d))).toEqual([]);
  });
});

describe.each(FOLDERS)('the quickstart on $name', ({ name, dir, port, names, shows, also }) => {
  const work = `work-${name.replace(/ /g, '-')}`;
  let qs: Running;
  beforeAll(async () => {
    qs = await startQuickstart(work, port, dir());
  });
  afterAll(async () => {
    expect(await stop(qs)).toBe(0);
  });

  it('prints lines for the names the folder serves, and every answer is 2xx', () => {
    const lines = curlLines(qs.out());
    expect(lines.flatMap(modelsOf)).toEqual(names);
    for (const s of shows) expect(qs.out()).toEqual(typeof s === 'string' ? expect.stringContaining(s) : expect.stringMatching(s));
    runAll(lines);
    also?.(qs.out(), lines, join(tmp.dir, work));
  });
});
