/**
 * A small JSON REST client for the Kubernetes API, on the TLS and credentials of a client-node
 * KubeConfig. Writes (status patches, the snapshot ConfigMap, the Lease) go through it so the
 * operator controls content types and sees the API server's own error messages.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** An error answer from the API server. */
export class KubeError extends Error {
  constructor(readonly status: number, message: string, readonly reason: string | undefined) {
    super(message);
    this.name = 'KubeError';
  }
}

/** Content types the API server accepts for PATCH. */
export const MERGE_PATCH = 'application/merge-patch+json';

/**
 * The one call the operator's writers need. KubeRest implements it on a real API server; unit
 * tests pass a fake that records requests and answers with canned bodies or KubeErrors.
 */
export interface KubeClient {
  /** Sends one request; resolves with the decoded JSON body, rejects with a KubeError for a non-2xx answer. */
  call<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
}

/** JSON over HTTPS to the API server of a kubeconfig. */
export class KubeRest implements KubeClient {
  private readonly server: URL;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** Sends one request; resolves with the decoded JSON body (or null for an empty one). */
  async call<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const opts: RequestOptions = {
      method,
      hostname: this.server.hostname,
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path,
      headers: { accept: 'application/json' },
      timeout: 15_000,
    };
    await this.kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) Object.assign(opts.headers!, { 'content-type': contentType, 'content-length': payload.length });
    const send = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = text ? safeParse(text) : null;
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json as T);
          const s = json as { message?: string; reason?: string } | null;
          reject(new KubeError(status, `${method} ${path}: ${status} ${s?.message ?? text.slice(0, 300)}`, s?.reason));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
