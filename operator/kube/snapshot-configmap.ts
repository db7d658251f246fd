/**
 * The durable copy of the snapshot: a ConfigMap (default `sluice-snapshot`) that data-plane pods
 * mount and read at start, so they serve the last published routing even when the operator or the
 * API server is down. Written only when the content hash changed. Up to 512 KiB it is plain JSON
 * under `data["snapshot.json"]`; larger, it is gzip under `binaryData["snapshot.json"]` (the data
 * plane recognises gzip by its magic bytes), since a ConfigMap holds at most 1 MiB.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { RoutingSnapshot } from '../../shared/snapshot/schema';
import { KubeError, MERGE_PATCH, type KubeRest } from './kube-rest';

const GZIP_ABOVE = 512 * 1024;
const MAX_BYTES = 1024 * 1024 - 4096;

/** Writes the snapshot ConfigMap. */
export class SnapshotConfigMap {
  private writtenHash: string | null = null;

  constructor(private readonly rest: KubeRest, private readonly namespace: string, private readonly name = 'sluice-snapshot') {}

  /** The snapshot stored now, if any (to continue version numbering after a restart). */
  async read(): Promise<{ version: number; hash: string } | null> {
    try {
      const cm = await this.rest.call<{ data?: Record<string, string>; binaryData?: Record<string, string> }>('GET', this.path());
      const text = cm.data?.['snapshot.json'] ?? (cm.binaryData?.['snapshot.json'] ? gunzipSync(Buffer.from(cm.binaryData['snapshot.json'], 'base64')).toString('utf8') : null);
      if (!text) return null;
      const s = JSON.parse(text) as { version?: unknown; hash?: unknown };
      if (typeof s.version === 'number' && typeof s.hash === 'string') {
        this.writtenHash = s.hash;
        return { version: s.version, hash: s.hash };
      }
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    return null;
  }

  /** Stores `snapshot` unless the same content is stored already. */
  async write(snapshot: RoutingSnapshot): Promise<boolean> {
    if (snapshot.hash === this.writtenHash) return false;
    const json = Buffer.from(JSON.stringify(snapshot));
    const big = json.length > GZIP_ABOVE;
    const payload = big ? gzipSync(json) : json;
    if (payload.length > MAX_BYTES) throw new Error(`snapshot is ${payload.length} bytes even compressed; a ConfigMap holds at most 1 MiB`);
    const body = {
      metadata: { labels: { 'app.kubernetes.io/managed-by': 'sluice-operator' }, annotations: { 'sluice.dev/snapshot-version': String(snapshot.version), 'sluice.dev/snapshot-hash': snapshot.hash } },
      data: big ? null : { 'snapshot.json': json.toString('utf8') },
      binaryData: big ? { 'snapshot.json': payload.toString('base64') } : null,
    };
    try {
      await this.rest.call('PATCH', this.path(), body, MERGE_PATCH);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      await this.rest.call('POST', `/api/v1/namespaces/${this.namespace}/configmaps`, {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: this.name, namespace: this.namespace, ...body.metadata },
        ...(big ? { binaryData: body.binaryData } : { data: body.data }),
      });
    }
    this.writtenHash = snapshot.hash;
    return true;
  }

  private path(): string {
    return `/api/v1/namespaces/${this.namespace}/configmaps/${this.name}`;
  }
}
