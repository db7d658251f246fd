/**
 * The request Sluice sends to an ExternalModelProvider. Unlike an engine pod, a provider is
 * outside the trust boundary, so nothing of the client's is passed on by default: only the
 * content headers and request-correlation headers below, then the provider's static headers, then
 * its credential last, so neither the client nor a static header can replace it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderEntry } from '../routing/routing-table';

/** Client headers a provider receives. `accept-encoding` is not among them: answers come uncompressed, so usage can be read. */
const PASSED = ['content-type', 'accept', 'x-request-id', 'traceparent', 'tracestate', 'baggage'] as const;

/** Where and what to send. */
export interface ProviderRequest {
  /** The path on the provider's origin: the base URL's path, then the client's path without `/v1`. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Builds the provider request for a client request to `path` (`/v1/chat/completions`). `json` is
 * the parsed body and `raw` its bytes, sent unchanged unless the provider renames the model.
 */
export function providerRequest(provider: ProviderEntry, path: string, client: IncomingHttpHeaders, json: Record<string, unknown>, raw: Buffer, credential: string | null): ProviderRequest {
  const headers: Record<string, string> = {};
  for (const name of PASSED) {
    const v = client[name];
    if (typeof v === 'string') headers[name] = v;
  }
  Object.assign(headers, provider.spec.headers);
  if (credential !== null) headers.authorization = `Bearer ${credential}`;
  const model = provider.spec.model;
  const body = model !== undefined && json.model !== model ? Buffer.from(JSON.stringify({ ...json, model })) : raw;
  headers['content-length'] = String(body.length);
  return { path: `${provider.basePath}${path.startsWith('/v1/') ? path.slice(3) : path}`, headers, body };
}
