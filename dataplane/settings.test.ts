import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDataplaneSettings } from './settings';

const dir = mkdtempSync(join(tmpdir(), 'sluice-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('parseDataplaneSettings', () => {
  it('defaults: no tokens, a 5 min first-byte deadline', () => {
    const s = parseDataplaneSettings([], {});
    expect([s.pushToken, s.readToken, s.upstreamFirstByteTimeoutMs]).toEqual([null, null, 300_000]);
  });

  it('reads both tokens from files (trimmed), and the deadline from a flag or the environment', () => {
    const s = parseDataplaneSettings(['--push-token-file', file('push', 'p-1\n'), '--read-token-file', file('read', ' r-1 \n'), '--upstream-first-byte-timeout-ms', '60000'], {});
    expect([s.pushToken, s.readToken, s.upstreamFirstByteTimeoutMs]).toEqual(['p-1', 'r-1', 60_000]);
    expect(parseDataplaneSettings([], { SLUICE_READ_TOKEN: 'r-2', SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '1000' })).toMatchObject({ readToken: 'r-2', upstreamFirstByteTimeoutMs: 1000 });
  });

  it.each([
    ['an empty token file', ['--read-token-file', file('empty', '\n')], /--read-token-file .*empty is empty/],
    ['a missing token file', ['--push-token-file', join(dir, 'nope')], /ENOENT/],
    ['the same token twice', ['--push-token', 'same', '--read-token', 'same'], /--read-token is the same as --push-token/],
    ['a deadline of 0', ['--upstream-first-byte-timeout-ms', '0'], /--upstream-first-byte-timeout-ms: expected a positive whole number/],
  ])('refuses %s, naming the flag', (_what, argv, message) => {
    expect(() => parseDataplaneSettings(argv, {})).toThrow(message);
  });
});
