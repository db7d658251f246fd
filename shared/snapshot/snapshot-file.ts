/** Reading a snapshot file: JSON, or gzip-compressed JSON (as large ConfigMap copies are stored). */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** Reads and decodes a snapshot file; validation is the caller's. */
export function readSnapshotFile(path: string): unknown {
  const bytes = readFileSync(path);
  const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
  return JSON.parse(text);
}
