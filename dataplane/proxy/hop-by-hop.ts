/**
 * Which headers a proxy must not pass on (RFC 9110 §7.6.1): those of one connection
 * (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), every header the
 * Connection header names, and, on requests, `Expect`. Node answers a client's
 * `Expect: 100-continue` itself; forwarded, undici refuses the request outright (it does not
 * implement expect), which made every curl upload of 1 MiB or more a 502. `host` and
 * `content-length` are set again by the forwarder for the bytes it sends.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Headers that belong to one connection; never forwarded in either direction. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'host', 'content-length']);

/** Also dropped from requests: an expectation is between the client and Sluice. */
const REQUEST_ONLY = new Set(['expect']);

/** Header names listed in `Connection` (lower-case), which are hop-by-hop too. */
function namedByConnection(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const names = new Set<string>();
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const token of v.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) names.add(name);
    }
  }
  return names.size ? names : null;
}

/**
 * A copy of `headers` without hop-by-hop headers. `request` also drops `expect`; `keep` names a
 * header to keep although it is in HOP_BY_HOP (the response's content-length).
 */
export function endToEndHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, request: boolean, keep?: string): Record<string, string | string[]> {
  const named = namedByConnection(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined) continue;
    const drop = key !== keep && (HOP_BY_HOP.has(key) || key.startsWith('proxy-') || (request && REQUEST_ONLY.has(key)) || named?.has(key) === true);
    if (!drop) out[key] = v;
  }
  return out;
}
