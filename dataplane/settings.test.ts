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
  it('defaults: no tokens', () => {
    const s = parseDataplaneSettings([], {});
    expect([s.pushToken, s.readToken]).toEqual([null, null]);
  });

  it('reads both tokens from files (trimmed), or from the environment', () => {
    const s = parseDataplaneSettings(['--push-token-file', file('push', 'p-1\n'), '--read-token-file', file('read', ' r-1 \n')], {});
    expect([s.pushToken, s.readToken]).toEqual(['p-1', 'r-1']);
    expect(parseDataplaneSettings([], { SLUICE_READ_TOKEN: 'r-2' })).toMatchObject({ readToken: 'r-2' });
  });

  it.each([
    ['an empty token file', ['--read-token-file', file('empty', '\n')], /--read-token-file .*empty is empty/],
    ['a missing token file', ['--push-token-file', join(dir, 'nope')], /ENOENT/],
    ['the same token twice', ['--push-token', 'same', '--read-token', 'same'], /--read-token is the same as --push-token/],
  ])('refuses %s, naming the flag', (_what, argv, message) => {
    expect(() => parseDataplaneSettings(argv, {})).toThrow(message);
  });
});
