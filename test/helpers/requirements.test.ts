import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTool, findExecutable, gateDecision, skipLine, testsNeeding, type ToolCheck } from './requirements';

const dir = mkdtempSync(join(tmpdir(), 'sluice-req-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exe = join(dir, 'promtool');
writeFileSync(exe, '#!/bin/sh\n');
chmodSync(exe, 0o755);
writeFileSync(join(dir, 'redis-server'), 'not executable');

const missing: ToolCheck = { tool: 'redis-server', available: false, reason: 'redis-server is not on PATH' };
const present: ToolCheck = { tool: 'redis-server', available: true, reason: '' };

describe('gateDecision', () => {
  it.each([
    ['a present tool runs', present, {}, 'run'],
    ['a present tool runs when all are required', present, { SLUICE_REQUIRE_ALL_TESTS: '1' }, 'run'],
    ['a missing tool skips', missing, {}, 'skip'],
    ['a missing tool skips unless the variable is exactly 1', missing, { SLUICE_REQUIRE_ALL_TESTS: '0' }, 'skip'],
  ] as const)('%s', (_, check, env, want) => {
    expect(gateDecision(check, env)).toBe(want);
  });

  it('a missing optional tool (the image builder) skips even when all tests are required', () => {
    const noBuilder: ToolCheck = { tool: 'image-builder', available: false, reason: 'no OCI builder' };
    expect(gateDecision(noBuilder, { SLUICE_REQUIRE_ALL_TESTS: '1' })).toBe('skip');
  });

  it('a missing tool fails when all tests are required, naming the fix', () => {
    expect(() => gateDecision(missing, { SLUICE_REQUIRE_ALL_TESTS: '1' })).toThrow(/SLUICE_REQUIRE_ALL_TESTS=1 and redis-server is not on PATH.*apt-get install redis-server/);
  });
});

describe('checkTool', () => {
  it.each([
    ['promtool found on PATH', 'promtool', { PATH: `/nonexistent:${dir}` }, true],
    ['promtool missing', 'promtool', { PATH: '/nonexistent' }, false],
    ['openssl missing', 'openssl', { PATH: '/nonexistent' }, false],
    ['a non-executable redis-server does not count', 'redis-server', { PATH: dir }, false],
    ['REDIS_SERVER names the binary', 'redis-server', { PATH: '', REDIS_SERVER: exe }, true],
  ] as const)('%s', (_, tool, env, available) => {
    expect(checkTool(tool, env).available).toBe(available);
  });

  it('findExecutable returns the first executable match', () => {
    expect(findExecutable('promtool', `${dir}:/usr/bin`)).toBe(exe);
    expect(findExecutable('no-such-tool-anywhere', `${dir}`)).toBeNull();
  });
});

describe('skipLine', () => {
  it.each([
    ['promtool', 'apt-get install prometheus'],
    ['redis-server', 'apt-get install redis-server'],
    ['openssl', 'apt-get install openssl'],
    ['kube', 'bash hack/kube/build.sh'],
    ['image-builder', 'apt-get install podman mmdebstrap'],
  ] as const)('for %s names `%s`, on one line', (tool, command) => {
    const line = skipLine({ tool, available: false, reason: 'x is missing' });
    expect(line).toContain(command);
    expect(line).toContain('x is missing');
    expect(line).not.toContain('\n');
  });
});

describe('testsNeeding', () => {
  it('hands out the real jest functions when the tool is there', () => {
    const g = testsNeeding('promtool', { PATH: dir });
    expect(g.skipped).toBe(false);
    expect(g.it).toBe(it);
  });

  it('hands out skipping functions and no-op hooks when it is not', () => {
    const g = testsNeeding('redis-server', { PATH: '/nonexistent' });
    expect(g.skipped).toBe(true);
    expect(g.it).toBe(it.skip);
    const hook = jest.fn();
    g.beforeAll(hook);
    expect(hook).not.toHaveBeenCalled();
  });
});
