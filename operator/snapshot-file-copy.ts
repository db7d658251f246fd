/**
 * The directory source's durable copy: the snapshot as a JSON file (--snapshot-out) that a data
 * plane reads at start with --snapshot-file. Written to a temporary name and renamed, so a data
 * plane starting meanwhile never reads half a file.
 */
import { rename, unlink, writeFile } from 'node:fs/promises';
import type { RoutingSnapshot } from '../shared/snapshot/schema';
import type { DurableCopy } from './publisher';

/** Writes the snapshot file. */
export class SnapshotFileCopy implements DurableCopy {
  readonly where: string;

  constructor(private readonly path: string) {
    this.where = `file ${path}`;
  }

  /** Stores `snapshot`; a failure (folder gone, disk full, no permission) rejects with the reason. */
  async write(snapshot: RoutingSnapshot): Promise<void> {
    const tmp = `${this.path}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(snapshot));
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new Error(`cannot write ${this.where}: ${(err as Error).message}`);
    }
  }
}
