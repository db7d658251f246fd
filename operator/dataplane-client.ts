/**
 * How the operator talks to a data plane's admin listener: `PUT /v1/snapshot` to push and
 * `GET /v1/snapshot` to ask what it serves. An interface, so the publisher's convergence logic
 * (409 renumbering, backoff, served-hash checks) is unit-tested with a fake instead of sockets.
 */
import { request } from 'undici';

/** One answer from a data plane: the HTTP status and the body text. */
export interface DataplaneAnswer {
  status: number;
  text: string;
}

/** The two admin calls the publisher makes. */
export interface DataplaneClient {
  /** `PUT <url>/v1/snapshot` with the JSON (or gzip, when `gzip`) snapshot body. */
  push(url: string, body: Buffer, gzip: boolean): Promise<DataplaneAnswer>;
  /** `GET <url>/v1/snapshot`: `{version, hash, generatedAt}` of the snapshot it serves. */
  served(url: string): Promise<DataplaneAnswer>;
}

/** Timeouts of the HTTP client. */
export interface DataplaneHttpOptions {
  /** Bearer token for pushes (the data plane's --push-token). */
  token: string | null;
  /** Whole-push deadline; a large snapshot to a busy data plane can take a while. */
  pushTimeoutMs?: number;
  /** Deadline of a served-hash check: it is small and must not hold a verification round up. */
  servedTimeoutMs?: number;
}

const base = (url: string) => url.replace(/\/$/, '');

/** The real client, over undici. */
export function httpDataplaneClient(opts: DataplaneHttpOptions): DataplaneClient {
  const pushTimeout = opts.pushTimeoutMs ?? 10_000;
  const servedTimeout = opts.servedTimeoutMs ?? 2_000;
  return {
    async push(url, body, gzip) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (gzip) headers['content-encoding'] = 'gzip';
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      const res = await request(`${base(url)}/v1/snapshot`, { method: 'PUT', headers, body, headersTimeout: pushTimeout, bodyTimeout: pushTimeout, signal: AbortSignal.timeout(pushTimeout) });
      return { status: res.statusCode, text: await res.body.text() };
    },
    async served(url) {
      // The GET needs no token: it reveals only a version and a hash.
      const res = await request(`${base(url)}/v1/snapshot`, { method: 'GET', headersTimeout: servedTimeout, bodyTimeout: servedTimeout, signal: AbortSignal.timeout(servedTimeout) });
      return { status: res.statusCode, text: await res.body.text() };
    },
  };
}
