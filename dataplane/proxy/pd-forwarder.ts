/**
 * Prefill/decode disaggregated forwarding: a request to a PD ModelServer goes to a (prefill,
 * decode) pair of the same `pdGroup` group, and the client gets the decode pod's answer, streamed
 * as usual. How the two halves meet depends on the connector:
 *
 * | connector                  | prefill request                                   | decode request                                  |
 * |----------------------------|---------------------------------------------------|-------------------------------------------------|
 * | `http`, `lmcache`          | the original body; awaited (answer drained)       | the original body, after the prefill answered   |
 * | `nixl`, `mooncake` (vLLM)  | `max_tokens: 1`, `stream: false`, no              | the original body plus the prefill answer's     |
 * |                            | `stream_options`, `kv_transfer_params`            | `kv_transfer_params`                            |
 * |                            | `{do_remote_decode: true, do_remote_prefill:      |                                                 |
 * |                            | false, remote_*: null}`; awaited                  |                                                 |
 * | SGLang engine (any)        | the original body plus `bootstrap_host` (the      | the same three fields; sent at the same time    |
 * |                            | prefill pod), `bootstrap_port` 8998,              | as the prefill                                  |
 * |                            | `bootstrap_room` (random); its answer is dropped  |                                                 |
 *
 * Failover: pairs are tried in the scheduler's order. A prefill that cannot be reached, answers
 * 5xx or no `kv_transfer_params`, or a decode that fails before answering, moves on to the next
 * pair (connect failures free, others while `trafficPolicy.retry.attempts` lasts); a prefill 4xx
 * is the client's answer (the request itself is wrong). `trafficPolicy.timeout` bounds the wait
 * for the decode's response headers, prefill included; `sluice.dev/request-deadline` the whole
 * exchange. Without a timeout, each half gets the first-byte deadline
 * (`--upstream-first-byte-timeout-ms`) on its response headers.
 */
import type { ServerResponse } from 'node:http';
import { randomInt } from 'node:crypto';
import { SluiceError } from '../../shared/errors/codes';
import type { ServerEntry } from '../routing/routing-table';
import type { Endpoint } from './endpoint-registry';
import { forward, type ForwardOutcome, type ForwardRequest } from './forwarder';

/** One prefill endpoint and one decode endpoint of the same group. */
export interface PdPair {
  readonly prefill: Endpoint;
  readonly decode: Endpoint;
}

/** SGLang's default `--disaggregation-bootstrap-port`. */
export const SGLANG_BOOTSTRAP_PORT = 8998;

/** Most pairs kept as failover candidates. */
export const MAX_PAIRS = 5;

/**
 * Pairs in failover order: for each decode endpoint in the scheduler's decode order, the prefill
 * endpoints of its group in the scheduler's prefill order; at most MAX_PAIRS. Decode endpoints
 * whose group has no prefill endpoint are skipped.
 */
export function pairOrder(decodeOrder: readonly Endpoint[], prefillOrder: readonly Endpoint[], groupOf: ReadonlyMap<Endpoint, string>): PdPair[] {
  const pairs: PdPair[] = [];
  for (const decode of decodeOrder) {
    const group = groupOf.get(decode);
    for (const prefill of prefillOrder) {
      if (groupOf.get(prefill) !== group) continue;
      pairs.push({ prefill, decode });
      if (pairs.length >= MAX_PAIRS) return pairs;
    }
  }
  return pairs;
}

/** The request, as for forward(), with the parsed body and the pairs instead of an order. */
export interface PdForwardRequest extends Omit<ForwardRequest, 'order' | 'body' | 'server'> {
  readonly server: ServerEntry;
  readonly json: Record<string, unknown>;
  readonly pairs: readonly PdPair[];
  /** Called with the pair that answered (prefix index, decision header, logs). */
  readonly onPair?: (pair: PdPair) => void;
}

/** The three connector behaviours. */
export type PdProtocol = 'http' | 'nixl' | 'sglang';

/** Which protocol a server speaks: SGLang's bootstrap whatever the connector, else by kvConnector.type. */
export function protocolOf(server: ServerEntry): PdProtocol {
  if (server.spec.engine === 'SGLang') return 'sglang';
  const t = server.spec.kvConnector ?? 'http';
  return t === 'nixl' || t === 'mooncake' ? 'nixl' : 'http';
}

/** The body sent to the prefill pod. */
export function prefillBody(protocol: PdProtocol, json: Record<string, unknown>, bootstrap: Record<string, unknown> | null): Record<string, unknown> {
  if (protocol === 'http') return json;
  if (protocol === 'sglang') return { ...json, ...bootstrap };
  const out: Record<string, unknown> = { ...json, max_tokens: 1, stream: false };
  if ('max_completion_tokens' in out) out.max_completion_tokens = 1;
  delete out.stream_options;
  out.kv_transfer_params = { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null };
  return out;
}

const host = (ep: Endpoint) => new URL(ep.origin).hostname.replace(/^\[|\]$/g, '');

class PairFailed extends Error {
  constructor(message: string, readonly free: boolean) {
    super(message);
  }
}

/** A prefill pod refused the request itself (4xx): that answer goes to the client unchanged. */
class PrefillRefused extends Error {
  constructor(readonly status: number, readonly contentType: string, readonly text: string) {
    super(`prefill refused with ${status}`);
  }
}

/** Forwards through the pairs; writes the decode answer (or an error answer) to `res`. */
export async function forwardPd(fr: PdForwardRequest, res: ServerResponse): Promise<ForwardOutcome> {
  const { server, pairs } = fr;
  if (pairs.length === 0) {
    throw new SluiceError('SLUICE_NO_ENDPOINTS', `ModelServer ${server.key} has no complete PD group (a prefill and a decode pod with the same group label) ready; check its Ready condition`);
  }
  const protocol = protocolOf(server);
  // The prefill comes before any byte reaches the client: both deadlines bound it.
  const { timeoutMs, deadlineMs } = server.spec;
  const deadline = Math.min(timeoutMs ? fr.startedAt + timeoutMs : Infinity, deadlineMs ? fr.startedAt + deadlineMs : Infinity);
  // The decode half alone gets no retries of its own: a failed pair is replaced as a whole.
  const decodeServer: ServerEntry = { ...server, spec: { ...server.spec, retry: { attempts: 0, intervalMs: 0 } } };
  let retriesLeft = server.spec.retry.attempts;
  const failures: string[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const bootstrap = protocol === 'sglang' ? { bootstrap_host: host(pair.prefill), bootstrap_port: SGLANG_BOOTSTRAP_PORT, bootstrap_room: randomInt(2 ** 47) } : null;
    let decodeJson: Record<string, unknown> = fr.json;
    try {
      if (protocol === 'sglang') {
        decodeJson = { ...fr.json, ...bootstrap };
        // Sent together: the decode pod waits for the prefill pod's KV in the bootstrap room.
        // Its answer is dropped; a failed prefill shows as the decode pod's error (the room never fills).
        void prefill(pair.prefill, fr, prefillBody(protocol, fr.json, bootstrap), deadline).catch(() => undefined);
      } else {
        const answer = await prefill(pair.prefill, fr, prefillBody(protocol, fr.json, null), deadline);
        // http/lmcache: the answer only says the KV is stored (it may be a stream); nixl: it carries the transfer.
        if (protocol === 'nixl') {
          let parsed: unknown;
          try {
            parsed = JSON.parse(answer);
          } catch {
            throw new PairFailed(`prefill ${pair.prefill.pod} answered something that is not JSON`, false);
          }
          const kv = (parsed as { kv_transfer_params?: unknown } | null)?.kv_transfer_params;
          if (typeof kv !== 'object' || kv === null) throw new PairFailed(`prefill pod ${pair.prefill.pod} answered without kv_transfer_params; is it running with a ${server.spec.kvConnector} KV connector?`, false);
          decodeJson = { ...fr.json, kv_transfer_params: kv };
        }
      }
    } catch (err) {
      if (err instanceof PrefillRefused) {
        if (!res.headersSent) res.writeHead(err.status, { 'content-type': err.contentType, 'content-length': Buffer.byteLength(err.text) }).end(err.text);
        fr.onPair?.(pair);
        return { endpoint: pair.prefill, status: err.status, attempts: i + 1, upstreamHeadersMs: null, firstByteMs: null, usage: null, streamEvents: 0, aborted: false };
      }
      if (err instanceof SluiceError) throw err;
      const e = err as PairFailed;
      failures.push(e.message);
      if (res.destroyed) return { endpoint: null, status: 0, attempts: i + 1, upstreamHeadersMs: null, firstByteMs: null, usage: null, streamEvents: 0, aborted: true };
      if (!e.free) {
        if (retriesLeft <= 0) break;
        retriesLeft -= 1;
      }
      fr.onFailover(e.free ? 'connect' : 'status');
      continue;
    }
    const body = Buffer.from(JSON.stringify(decodeJson));
    const headers = { ...fr.headers, 'content-length': String(body.length) };
    fr.onPair?.(pair);
    try {
      const outcome = await forward({ ...fr, server: decodeServer, order: [pair.decode], body, headers }, res);
      outcome.attempts += i;
      return outcome;
    } catch (err) {
      // Nothing reached the client: try the next pair.
      if (!(err instanceof SluiceError) || res.headersSent || err.code === 'SLUICE_UPSTREAM_TIMEOUT') throw err;
      failures.push(`decode ${pair.decode.pod}: ${err.message}`);
      if (retriesLeft <= 0) break;
      retriesLeft -= 1;
      fr.onFailover('status');
    }
  }
  throw new SluiceError('SLUICE_UPSTREAM_ERROR', `ModelServer ${server.key}: no prefill/decode pair answered: ${failures.join('; ')}`);
}

/** The ModelServer deadlines that bound a prefill, for error messages. */
function deadlineText(server: ServerEntry): string {
  const { timeoutMs, deadlineMs } = server.spec;
  return [timeoutMs ? `trafficPolicy.timeout of ${timeoutMs}ms` : '', deadlineMs ? `sluice.dev/request-deadline of ${deadlineMs}ms` : ''].filter(Boolean).join(' and ');
}

/** Sends the prefill request and returns its answer's text; throws PairFailed, PrefillRefused (4xx) or a timeout. */
async function prefill(ep: Endpoint, fr: PdForwardRequest, json: Record<string, unknown>, deadline: number): Promise<string> {
  const body = Buffer.from(JSON.stringify(json));
  const left = deadline - Date.now();
  if (left <= 0) throw new SluiceError('SLUICE_UPSTREAM_TIMEOUT', `ModelServer ${fr.server.key} did not answer within ${deadlineText(fr.server)} (during prefill on ${ep.pod})`);
  const timeout = Number.isFinite(left) ? left : 0;
  // No ModelServer deadline: a hung prefill pod still must not hold the request for ever.
  const firstByte = Number.isFinite(left) ? 0 : fr.firstByteTimeoutMs ?? 0;
  ep.inFlight += 1;
  try {
    const res = await ep.pool.request({
      method: 'POST', path: fr.path, headers: { ...fr.headers, 'content-length': String(body.length) }, body,
      headersTimeout: timeout || firstByte, bodyTimeout: timeout,
    });
    const text = await res.body.text();
    if (res.statusCode >= 500) throw new PairFailed(`prefill ${ep.pod} answered ${res.statusCode}: ${text.slice(0, 200)}`, false);
    if (res.statusCode >= 400) throw new PrefillRefused(res.statusCode, String(res.headers['content-type'] ?? 'application/json'), text);
    return text;
  } catch (err) {
    if (err instanceof PairFailed || err instanceof SluiceError || err instanceof PrefillRefused) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' && firstByte) {
      throw new SluiceError('SLUICE_UPSTREAM_TIMEOUT', `ModelServer ${fr.server.key}: prefill pod ${ep.pod} sent no response headers within ${firstByte}ms (the data plane's --upstream-first-byte-timeout-ms; the ModelServer sets no trafficPolicy.timeout)`);
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      throw new SluiceError('SLUICE_UPSTREAM_TIMEOUT', `ModelServer ${fr.server.key} did not answer within ${deadlineText(fr.server)} (during prefill on ${ep.pod})`);
    }
    const free = code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'UND_ERR_CONNECT_TIMEOUT';
    throw new PairFailed(`prefill ${ep.pod}: ${(err as Error).message}`, free);
  } finally {
    ep.inFlight -= 1;
  }
}
