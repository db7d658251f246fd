import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialFor } from './quickstart-credential';

const KEY = 'sk-quickstart-3f9c1a7e5b2d4c68';
const dir = mkdtempSync(join(tmpdir(), 'sluice-credential-'));
const keyFile = join(dir, 'api-key');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A key file with `text`, and API-key auth reading it. */
function apiKeys(name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return { apiKeys: { file } };
}
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

describe('credentialFor', () => {
  it('needs nothing without auth, and leaves no key file behind', () => {
    writeFileSync(keyFile, 'stale');
    expect(credentialFor(undefined, keyFile)).toEqual({ kind: 'none' });
    expect(existsSync(keyFile)).toBe(false);
  });

  it('copies the first plain key the data plane accepts to a file only the user reads', () => {
    const auth = apiKeys('plain.yaml', `keys:\n- id: hashed\n  sha256: ${sha('sk-other-0123456789abcdef')}\n- id: team-a\n  key: ${KEY}\n`);
    expect(credentialFor(auth, keyFile)).toEqual({ kind: 'file', file: keyFile });
    expect(readFileSync(keyFile, 'utf8')).toBe(KEY);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['digests only', `keys:\n- id: team-a\n  sha256: ${sha(KEY)}\n`, 'env', /holds digests \(sha256\) only: export SLUICE_API_KEY=<one of its keys>/],
    ['an invalid file', `keys:\n- id: team-a\n  key: short\n`, 'unavailable', /is invalid: keys\[0\]\.key: must be at least 16 characters.*no request line is printed/],
  ])('with %s: %s', (_what, text, kind, note) => {
    const c = credentialFor(apiKeys(`${kind}.yaml`, text), keyFile);
    expect(c.kind).toBe(kind);
    expect('note' in c ? c.note : '').toMatch(note);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('cannot use a missing key file or JWT auth', () => {
    expect(credentialFor({ apiKeys: { file: join(dir, 'missing.yaml') } }, keyFile)).toMatchObject({ kind: 'unavailable', note: expect.stringMatching(/cannot be read \(ENOENT\)/) });
    const jwt = { issuer: 'me', audiences: ['a'], jwksUri: 'https://x/jwks.json', clockSkewSeconds: 30, userClaim: 'sub', tierClaim: 'tier' };
    expect(credentialFor({ jwt }, keyFile)).toMatchObject({ kind: 'unavailable', note: expect.stringMatching(/^JWT auth is on \(issuer me\)/) });
  });
});
