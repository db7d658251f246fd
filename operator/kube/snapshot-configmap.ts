/**
 * The durable copy of the snapshot: a ConfigMap (default `sluice-snapshot`) that data-plane pods
 * mount and read at start, so they serve the last published routing even when the operator or the
 * API server is down. Written before any push, and only when the content (or, after a renumber,
the version) changed. Up to 512 KiB it is plain JSON
 * under `data["snapshot.json"]`; larger, it is gzip under `binaryData["snapshot.json"]` (the data
 * plane recognises gzip by its magic bytes), since a ConfigMap holds at most 1 MiB. A failed write rejects with a message the
 * publisher shows in the routes' Programmed condition.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { RoutingSnapshot } from '../../shared/snapshot/schema';
import type { DurableCopy } from '../publisher';
import { KubeError, MERGE_PATCH, type KubeClient } from './kube-rest';

const GZIP_ABOVE = 512 * 1024;
/** The API server refuses a ConfigMap whose data adds up to more than 1 MiB; keep room for metadata. */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024 - 4096;

/** Writes the snapshot ConfigMap. */
export class SnapshotConfigMap implements DurableCopy {
  readonly where: string;
  /** Version and hash stored now: a renumbered snapshot (same hash, new version) is stored too, so a restarted operator numbers on from it. */
  private written: { version: number; hash: string } | null = null;

  constructor(private readonly rest: KubeClient, private readonly namespace: string, private readonly name = 'sluice-snapshot') {
    this.where = `ConfigMap ${namespace}/${name}`;
  }

  /** The snapshot stored now, if any (to continue version numbering after a restart). */
  async read(): Promise<{ version: number; hash: string } | null> {
    try {
      const cm = await this.rest.call<{ data?: Record<string, string>; binaryData?: Record<string, string> }>('GET', this.path());
      const text = cm.data?.['snapshot.json'] ?? (cm.binaryData?.['snapshot.json'] ? gunzipSync(Buffer.from(cm.binaryData['snapshot.json'], 'base64')).toString('utf8') : null);
      if (!text) return null;
      const s = JSON.parse(text) as { version?: unknown; hash?: unknown };
      if (typeof s.version === 'number' && typeof s.hash === 'string') {
        this.written = { version: s.version, hash: s.hash };
        return this.written;
      }
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    return null;
  }

  /**
   * Stores `snapshot` unless it is stored already. Rejects, without calling the API server, when
   * the snapshot does not fit even compressed, and with the API server's own message otherwise.
   */
  async write(snapshot: RoutingSnapshot): Promise<void> {
    if (this.written && this.written.hash === snapshot.hash && this.written.version === snapshot.version) return;
    const json = Buffer.from(JSON.stringify(snapshot));
    const big = json.length > GZIP_ABOVE;
    const payload = big ? gzipSync(json) : json;
    if (payload.length > MAX_CONFIGMAP_BYTES) {
      throw new Error(`cannot write ${this.where}: snapshot ${snapshot.version} is ${payload.length} bytes${big ? ` gzip-compressed (${json.length} as JSON)` : ''}, over the ${MAX_CONFIGMAP_BYTES} a ConfigMap can hold (1 MiB less room for metadata); fewer or smaller routing objects (pods count, through endpoints) are needed`);
    }
    const metadata = { labels: { 'app.kubernetes.io/managed-by': 'sluice-operator' }, annotations: { 'sluice.dev/snapshot-version': String(snapshot.version), 'sluice.dev/snapshot-hash': snapshot.hash } };
    const patch = {
      metadata,
      data: big ? null : { 'snapshot.json': json.toString('utf8') },
      binaryData: big ? { 'snapshot.json': payload.toString('base64') } : null,
    };
    const create = {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: this.name, namespace: this.namespace, ...metadata },
      ...(big ? { binaryData: patch.binaryData } : { data: patch.data }),
    };
    try {
      try {
        await this.rest.call('PATCH', this.path(), patch, MERGE_PATCH);
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 404)) throw err;
        try {
          await this.rest.call('POST', `/api/v1/namespaces/${this.namespace}/configmaps`, create);
        } catch (e) {
          // 409 AlreadyExists: created between the PATCH and the POST (another replica, or a
          // kubectl apply); it exists now, so the patch is the right write after all.
          if (!(e instanceof KubeError && e.status === 409)) throw e;
          await this.rest.call('PATCH', this.path(), patch, MERGE_PATCH);
        }
      }
    } catch (err) {
      throw new Error(`cannot write ${this.where}: ${(err as Error).message}`);
    }
    this.written = { version: snapshot.version, hash: snapshot.hash };
  }

  private path(): string {
    return `/api/v1/namespaces/${this.namespace}/configmaps/${this.name}`;
  }
}
