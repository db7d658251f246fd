/**
 * Test groups that need a tool outside npm: Prometheus's promtool, a real redis-server, openssl
 * (for test certificates), and the kube-apiserver/etcd/kubectl that hack/kube/build.sh builds. On a fresh machine (`npm install &&
 * npm test`) such a group is skipped with one line that says how to enable it; with
 * SLUICE_REQUIRE_ALL_TESTS=1 (set by .ci/run, which installs everything) a missing tool fails the
 * run instead, so CI never passes by skipping.
 *
 *   const { describe, it, beforeAll, afterAll } = testsNeeding('redis-server');
 *
 * The check runs once per test file, at import, before any hook starts a process.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { checkKubeBinaries } from '../../hack/kube/kube-apiserver';

/** The external tools some test groups need. */
export type Tool = 'promtool' | 'redis-server' | 'openssl' | 'kube';

/** The environment variable that turns a missing tool into a failure (CI sets it). */
export const REQUIRE_ALL_ENV = 'SLUICE_REQUIRE_ALL_TESTS';

/** What enables each tool's tests, in one command, and which tests they are. */
export const ENABLE: Readonly<Record<Tool, { tests: string; command: string }>> = Object.freeze({
  promtool: { tests: 'metrics-format tests', command: 'apt-get install prometheus' },
  'redis-server': { tests: 'global rate-limit (Redis) tests', command: 'apt-get install redis-server' },
  openssl: { tests: 'TLS tests', command: 'apt-get install openssl' },
  kube: { tests: 'Kubernetes tests', command: 'bash hack/kube/build.sh' },
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

/** Looks for `tool` without starting it. */
export function checkTool(tool: Tool, env: NodeJS.ProcessEnv = process.env): ToolCheck {
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
  if (env[REQUIRE_ALL_ENV] === '1') {
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
