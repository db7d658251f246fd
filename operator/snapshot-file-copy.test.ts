/** The directory source's durable copy: an atomic write, and a failure that names the file and the reason. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoutingSnapshot } from '../shared/snapshot/schema';
import { SnapshotFileCopy } from './snapshot-file-copy';

const snap = { version: 4, hash: 'a'.repeat(64) } as unknown as RoutingSnapshot;

describe('SnapshotFileCopy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-file-copy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the snapshot and leaves no temporary file', async () => {
    const path = join(dir, 'snapshot.json');
    await new SnapshotFileCopy(path).write(snap);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(snap);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it('rejects with the path and the reason when the folder is gone', async () => {
    const path = join(dir, 'missing', 'snapshot.json');
    await expect(new SnapshotFileCopy(path).write(snap)).rejects.toThrow(new RegExp(`^cannot write file ${path}: ENOENT`));
  });
});
