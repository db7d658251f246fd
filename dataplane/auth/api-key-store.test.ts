/**
 * ApiKeyStore on real files in a temp folder: parsing and its problems, lookups, and live reload
 * through a rename over the file, a Kubernetes Secret volume's `..data` symlink swap and the stat
 * poll. Reloads are awaited through onReload, never by sleeping.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../shared/errors/codes';
import { ApiKeyStore, parseApiKeyFile, formatIssues, type ApiKeyReload, type ApiKeyStoreOptions } from './api-key-store';
import { captureLogger, nextEvent } from './test-support';

const KEY_A = 'sk-team-a-0123456789abcdef';
const KEY_B = 'sk-team-b-fedcba9876543210';
const KEY_C = 'sk-team-c-aaaabbbbccccdddd';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

const FILE_AB = `keys:
- id: team-a
  tier: premium
  sha256: ${sha(KEY_A)}
- id: team-b
  key: ${KEY_B}
`;
const FILE_C = `keys:\n- id: team-c\n  key: ${KEY_C}\n`;

let dir: string;
const stores: ApiKeyStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-apikeys-'));
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(file: string, opts: ApiKeyStoreOptions = {}) {
  const { log, lines } = captureLogger();
  const store = new ApiKeyStore(file, log, opts);
  stores.push(store);
  return { store, lines };
}

/** Writes `text` to a temporary name and renames it over `file`, as atomic writers do. */
function replace(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.hrtime.bigint()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function reloaded(store: ApiKeyStore, ok: boolean): Promise<ApiKeyReload> {
  return nextEvent<ApiKeyReload>((fn) => store.onReload(fn), (r) => r.ok === ok, `a reload with ok=${ok}`);
}

describe('parseApiKeyFile', () => {
  it.each([
    ['YAML with sha256 and plaintext entries', FILE_AB, 2],
    ['JSON', JSON.stringify({ keys: [{ id: 'j', key: KEY_A }] }), 1],
    ['an empty list (every key refused)', 'keys: []\n', 0],
    ['upper-case hex', `keys:\n- id: u\n  sha256: ${sha(KEY_A).toUpperCase()}\n`, 1],
  ])('accepts %s', (_name, text, count) => {
    const r = parseApiKeyFile(text);
    expect(r.ok && r.records.length).toBe(count);
  });

  it('lists every problem of a file at once, each with its path, and never echoes a key', () => {
    const text = `keys:
- id: team-a
  sha256: abc
- id: team-a
  key: short
- tier: gold
  sha265: ${sha(KEY_A)}
- id: both
  key: ${KEY_A}
  sha256: ${sha(KEY_A)}
- id: plain
  key: ${KEY_B}
- id: hashed
  sha256: ${sha(KEY_B)}
- id: spaced
  key: "sk with spaces in it ok"
- 42
extra: 1
`;
    const r = parseApiKeyFile(text);
    if (r.ok) throw new Error('expected problems');
    expect(r.issues.map((i) => `${i.path}: ${i.message.split(/[;(]/)[0]!.trim()}`)).toEqual([
      'extra: unknown field',
      'keys[0].sha256: must be 64 hex characters, the output of printf %s "$KEY" | sha256sum',
      'keys[1].key: must be at least 16 characters',
      'keys[1].id: the same id as keys[0]',
      'keys[2].sha265: unknown field',
      'keys[2].id: must be a non-empty string naming who uses the key',
      'keys[2]: needs sha256',
      'keys[3]: set sha256 or key, not both',
      'keys[5]: has the same key as keys[4]',
      'keys[6].key: must be visible ASCII characters without spaces, since it is sent in an HTTP header',
      'keys[7]: must be a mapping with id and sha256 or key',
    ]);
    const all = formatIssues(r.issues);
    for (const secret of [KEY_A, KEY_B, 'short', 'sk with spaces']) expect(all).not.toContain(secret);
  });

  // Hardening defect 4: a key in the wrong place of a wrongly shaped file was echoed into the
  // error log line and the unauthenticated /debug/config_dump/auth.
  it.each([
    ['a list of bare keys', `keys:\n- ${KEY_A}\n`],
    ['keys as one string', `keys: ${KEY_A}\n`],
    ['a mapping of key to id', `${KEY_A}: team-a\n`],
    ['a key as a field name of an entry', `keys:\n- id: a\n  ${KEY_A}: x\n`],
    ['a key in the id and tier fields', `keys:\n- id: [${KEY_A}]\n  tier: {${KEY_A}: 1}\n`],
    ['a duplicate id that is a key', `keys:\n- id: ${KEY_A}\n  key: ${KEY_B}\n- id: ${KEY_A}\n  key: ${KEY_C}\n`],
    ['a YAML error on the key\'s line', `keys:\n- id: a\n  key: "${KEY_A}\n`],
    ['an unknown tag naming the key', `keys: !<${KEY_A}> x\n`],
    ['a bare string document', `${KEY_A}\n`],
  ])('never echoes a key from %s, in the issues, the log or the debug status', (_name, text) => {
    const r = parseApiKeyFile(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatIssues(r.issues)).not.toContain(KEY_A);
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, text);
    const { store, lines } = open(file, { pollIntervalMs: 60_000 });
    expect(store.status().lastError).toBeTruthy();
    expect(JSON.stringify(store.status())).not.toContain(KEY_A);
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(lines)).not.toContain(KEY_A);
  });

  it('names the line of a YAML error', () => {
    const r = parseApiKeyFile('keys:\n- id: a\n  key: "unterminated\n');
    expect(!r.ok && formatIssues(r.issues)).toMatch(/^not valid YAML or JSON at line \d+, column \d+: /);
  });

  it.each([
    ['not YAML', 'keys: [\n', /^not valid YAML or JSON/],
    ['not a mapping', '- id: a\n', /^must be a mapping with a keys list \(got a list\)/],
    ['keys not a list', 'keys: {id: a}\n', /^keys: must be a list/],
    ['a numeric id', `keys:\n- id: 123\n  key: ${KEY_A}\n`, /^keys\[0\]\.id: .*quote numbers/],
    ['an empty tier', `keys:\n- id: a\n  tier: ""\n  key: ${KEY_A}\n`, /^keys\[0\]\.tier: must be a non-empty string/],
  ])('refuses %s', (_name, text, message) => {
    const r = parseApiKeyFile(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatIssues(r.issues)).toMatch(message);
  });
});

describe('ApiKeyStore lookups', () => {
  it.each([
    ['a sha256 entry', KEY_A, { user: 'team-a', tier: 'premium', via: 'api-key' }],
    ['a plaintext entry', KEY_B, { user: 'team-b', tier: null, via: 'api-key' }],
    ['an unknown key', 'sk-nobody-0000000000000000', null],
    ['a key differing in the last character', `${KEY_A.slice(0, -1)}0`, null],
    ['the sha256 itself presented as the key', sha(KEY_A), null],
  ])('%s', (_name, key, identity) => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, FILE_AB);
    const { store } = open(file);
    expect(store.lookup(key)).toEqual(identity);
  });

  it('status names the file, ids and count, and holds no key or hash', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, FILE_AB);
    const { store } = open(file);
    const status = store.status();
    expect(status).toMatchObject({ file, keys: 2, ids: ['team-a', 'team-b'], lastError: null, watching: true });
    expect(Date.parse(status.loadedAt!)).not.toBeNaN();
    const text = JSON.stringify(status);
    for (const secret of [KEY_A, KEY_B, sha(KEY_A), sha(KEY_B)]) expect(text).not.toContain(secret);
  });

  it('a file that never loaded makes lookups unavailable, not unknown, until it appears', async () => {
    const file = join(dir, 'keys.yaml');
    const { store, lines } = open(file);
    expect(() => store.lookup(KEY_A)).toThrow(expect.objectContaining({ code: 'SLUICE_AUTH_UNAVAILABLE' }) as SluiceError);
    expect(store.status()).toMatchObject({ loadedAt: null, keys: 0, lastError: expect.stringContaining('ENOENT') });
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes('did not load'))).toBe(true);

    const ok = reloaded(store, true);
    replace(file, FILE_AB);
    expect(await ok).toEqual({ ok: true, keys: 2, error: null });
    expect(store.lookup(KEY_A)?.user).toBe('team-a');
  });
});

describe('ApiKeyStore live reload', () => {
  it('picks up a file renamed over the old one', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, FILE_AB);
    const { store } = open(file);
    const ok = reloaded(store, true);
    replace(file, FILE_C);
    expect(await ok).toEqual({ ok: true, keys: 1, error: null });
    expect(store.lookup(KEY_C)?.user).toBe('team-c');
    expect(store.lookup(KEY_A)).toBeNull();
  });

  it("picks up a Kubernetes Secret volume update (the ..data symlink swap)", async () => {
    // kubelet's layout: keys.yaml -> ..data/keys.yaml, ..data -> ..<timestamp>/
    mkdirSync(join(dir, '..2024_01_01_00_00_00.1'));
    writeFileSync(join(dir, '..2024_01_01_00_00_00.1', 'keys.yaml'), FILE_AB);
    symlinkSync('..2024_01_01_00_00_00.1', join(dir, '..data'));
    symlinkSync(join('..data', 'keys.yaml'), join(dir, 'keys.yaml'));
    const file = join(dir, 'keys.yaml');
    const { store } = open(file);
    expect(store.lookup(KEY_B)?.user).toBe('team-b');

    // The update: a new folder, a new symlink under a temporary name renamed over ..data, the old
    // folder removed. The file path's own symlink never changes.
    const ok = reloaded(store, true);
    mkdirSync(join(dir, '..2024_01_01_00_01_00.2'));
    writeFileSync(join(dir, '..2024_01_01_00_01_00.2', 'keys.yaml'), FILE_C);
    symlinkSync('..2024_01_01_00_01_00.2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2024_01_01_00_00_00.1'), { recursive: true });
    expect(await ok).toMatchObject({ ok: true, keys: 1 });
    expect(store.lookup(KEY_C)?.user).toBe('team-c');
    expect(store.lookup(KEY_B)).toBeNull();
  });

  it('falls back to the stat poll when no watch event arrives in time', async () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, FILE_AB);
    // A debounce longer than the test: only the poll can see the change.
    const { store } = open(file, { debounceMs: 600_000, pollIntervalMs: 20 });
    const ok = reloaded(store, true);
    replace(file, FILE_C);
    await ok;
    expect(store.lookup(KEY_C)?.user).toBe('team-c');
  });

  it.each([
    ['a file with problems', (file: string) => replace(file, `keys:\n- id: team-x\n  sha256: nothex\n`), /keys\[0\]\.sha256: must be 64 hex characters/],
    ['a deleted file', (file: string) => rmSync(file), /cannot read .*ENOENT/],
    ['a file that is not YAML', (file: string) => replace(file, 'keys: [\n'), /not valid YAML or JSON/],
  ])('keeps the last good keys after %s, reports it, and recovers', async (_name, breakIt, problem) => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, FILE_AB);
    const { store, lines } = open(file);

    const failed = reloaded(store, false);
    breakIt(file);
    const r = await failed;
    expect(r).toMatchObject({ ok: false, keys: 2 });
    expect(r.error).toMatch(problem);
    expect(store.lookup(KEY_A)?.user).toBe('team-a');
    expect(store.status()).toMatchObject({ keys: 2, lastError: expect.stringMatching(problem) });
    expect(lines.some((l) => l.level === 50 && String(l.err).match(problem) && String(l.msg).includes('keeping the keys'))).toBe(true);

    const ok = reloaded(store, true);
    replace(file, FILE_C);
    await ok;
    expect(store.lookup(KEY_C)?.user).toBe('team-c');
    expect(store.status().lastError).toBeNull();
  });
});
