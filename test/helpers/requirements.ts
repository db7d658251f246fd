/**
 * Test groups that need a tool outside npm: Prometheus's promtool, a real redis-server, openssl
 * (test certificates), the kube-apiserver/etcd/kubectl that hack/kube/build.sh builds, and an OCI
 * image builder. On a fresh machine (`npm install && npm test`) such a group is skipped with one
 * line that says how to enable it; with SLUICE_REQUIRE_ALL_TESTS=1 (set by .ci/run, which installs everything) a missing
 * tool fails the run instead, so CI never passes by skipping. The exception is OPTIONAL_IN_CI: the
 * image builder, which .ci/run does not install (manifests/README.md, "The image", says why),
 * skips there too.
 *
 *   const { describe, it, beforeAll, afterAll } = testsNeeding('redis-server');
 *
 * The check runs once per test file, at import, before any hook starts a process.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { checkKubeBinaries } from '../../hack/kube/kube-apiserver';

/** The external tools some test groups need. */
export type Tool = 'promtool' | 'redis-server' | 'openssl' | 'kube' | 'image-builder';

/** Tools whose absence skips their tests even with SLUICE_REQUIRE_ALL_TESTS=1. */
export const OPTIONAL_IN_CI: ReadonlySet<Tool> = new Set<Tool>(['image-builder']);

/**
 * The image tests build on the official base when this is `official`; otherwise on the local
 * stand-in (hack/image/stand-in-base.sh), which needs root and mmdebstrap.
 */
export const IMAGE_BASE_ENV = 'SLUICE_IMAGE_BASE';

/** The environment variable that turns a missing tool into a failure (CI sets it). */
export const REQUIRE_ALL_ENV = 'SLUICE_REQUIRE_ALL_TESTS';

/** What enables each tool's tests, in one command, and which tests they are. */
export const ENABLE: Readonly<Record<Tool, { tests: string; command: string }>> = Object.freeze({
  promtool: { tests: 'metrics-format tests', command: 'apt-get install prometheus' },
  'redis-server': { tests: 'global rate-limit (Redis) tests', command: 'apt-get install redis-server' },
  openssl: { tests: 'TLS tests', command: 'apt-get install openssl' },
  kube: { tests: 'Kubernetes tests', command: 'bash hack/kube/build.sh' },
  'image-builder': { tests: 'image build-and-run tests', command: 'apt-get install podman mmdebstrap (as root)' },
});

/** Whether a tool is usable here, and if not, why. */
export interface ToolCheck {
  tool: Tool;
  available: boolean;
  /** Why it is not available (empty when it is). */
  reason: string;
}

/** The path of `name` if an executable of that name is on PATH (or `name` is an executable path). */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  const candidates = isAbsolute(name) || name.includes('/') ? [name] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next folder
    }
  }
  return null;
}

/**
 * Whether hack/image/build.sh can build and hack/image/run.sh can run here: a docker with a
 * daemon or a working podman (`info` answers), and for the stand-in base root and mmdebstrap.
 */
function checkImageBuilder(env: NodeJS.ProcessEnv): ToolCheck {
  const tool: Tool = 'image-builder';
  const builderSh = resolve(__dirname, '..', '..', 'hack', 'image', 'builder.sh');
  const picked = spawnSync('bash', ['-c', '. "$1" && pick_builder', 'pick', builderSh], { env, encoding: 'utf8', timeout: 30_000 });
  const builder = picked.stdout.trim();
  if (picked.status !== 0 || !builder) return { tool, available: false, reason: picked.stderr.trim().split('\n').at(-1) || 'no OCI builder answered' };
  if (builder !== 'docker' && builder !== 'podman') return { tool, available: false, reason: `${builder} builds but cannot run the image (needs docker or podman)` };
  if (env[IMAGE_BASE_ENV] !== 'official') {
    if (process.getuid?.() !== 0) return { tool, available: false, reason: `the stand-in base needs root (or set ${IMAGE_BASE_ENV}=official where Docker Hub is reachable)` };
    if (!findExecutable('mmdebstrap', env.PATH)) return { tool, available: false, reason: 'mmdebstrap is not on PATH (it makes the stand-in base)' };
  }
  return { tool, available: true, reason: '' };
}

/** Looks for `tool` without starting it (for the image builder: `docker info` or `podman info`). */
export function checkTool(tool: Tool, env: NodeJS.ProcessEnv = process.env): ToolCheck {
  if (tool === 'image-builder') return checkImageBuilder(env);
  if (tool === 'kube') {
    try {
      checkKubeBinaries();
    } catch (err) {
      return { tool, available: false, reason: (err as Error).message.replace(/: run `bash.*$/s, '') };
    }
    if (!findExecutable('openssl', env.PATH)) return { tool, available: false, reason: 'openssl is not on PATH (it makes the test certificates)' };
    return { tool, available: true, reason: '' };
  }
  const bin = tool === 'redis-server' ? (env.REDIS_SERVER ?? 'redis-server') : tool;
  return findExecutable(bin, env.PATH) ? { tool, available: true, reason: '' } : { tool, available: false, reason: bin.includes('/') ? `${bin} is not an executable file` : `${bin} is not on PATH` };
}

/** The one line printed for a missing tool. */
export function skipLine(check: ToolCheck): string {
  const e = ENABLE[check.tool];
  return `skipping the ${e.tests}: ${check.reason}; to run them: ${e.command}`;
}

/**
 * Run or skip a group, given the check and whether every test is required. Throws (fails the
 * test file) when a required tool is missing.
 */
export function gateDecision(check: ToolCheck, env: NodeJS.ProcessEnv = process.env): 'run' | 'skip' {
  if (check.available) return 'run';
  if (env[REQUIRE_ALL_ENV] === '1' && !OPTIONAL_IN_CI.has(check.tool)) {
    throw new Error(`${REQUIRE_ALL_ENV}=1 and ${check.reason}: the ${ENABLE[check.tool].tests} cannot run; ${ENABLE[check.tool].command}`);
  }
  return 'skip';
}

/** Jest's functions for a group: the real ones, or ones that skip every test and run no hook. */
export interface GatedJest {
  describe: jest.Describe;
  it: jest.It;
  test: jest.It;
  beforeAll: typeof beforeAll;
  afterAll: typeof afterAll;
  beforeEach: typeof beforeEach;
  afterEach: typeof afterEach;
  /** True when this group is skipped. */
  skipped: boolean;
}

/** Jest's functions gated on `tool` (see the file comment). */
export function testsNeeding(tool: Tool, env: NodeJS.ProcessEnv = process.env): GatedJest {
  const check = checkTool(tool, env);
  if (gateDecision(check, env) === 'run') return { describe, it, test, beforeAll, afterAll, beforeEach, afterEach, skipped: false };
  const noHook = () => undefined;
  // The group name carries the reason, so a skipped test in jest's verbose output says why.
  const label = ` [${skipLine(check)}]`;
  const skipDescribe = ((name: string, fn: () => void) => describe.skip(`${name}${label}`, fn)) as unknown as jest.Describe;
  Object.assign(skipDescribe, { each: describe.skip.each, skip: describe.skip, only: describe.skip });
  return { describe: skipDescribe, it: it.skip, test: test.skip, beforeAll: noHook, afterAll: noHook, beforeEach: noHook, afterEach: noHook, skipped: true };
}
