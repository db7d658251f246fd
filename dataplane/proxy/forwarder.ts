/**
 * Sends one inference request to a ModelServer's endpoints and streams the answer back.
 *
 * Order: as the scheduler ranked the endpoints (dataplane/scheduler). A connect failure
 * moves on to the next endpoint at no cost, since the engine never saw the request. A 5xx before
 * any byte reached the client (or a connection that breaks before the headers) is retried on the next endpoint while `trafficPolicy.retry.attempts`
 * lasts, after `retryInterval`; the last 5xx is passed through unchanged, as is every 4xx.
 * `trafficPolicy.timeout` bounds the whole exchange: before the headers it answers 504, after it
 * cuts the stream. A client that goes away aborts the upstream request.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { errors as undiciErrors } from 'undici';
import { SluiceError } from '../../shared/errors/codes';
import type { ServerEntry } from '../routing/routing-table';
import type { Endpoint } from './endpoint-registry';
import { UsageTap, type Usage } from './usage-tap';

/** What was forwarded where, for the access log and metrics. */
export interface ForwardOutcome {
  endpoint: Endpoint | null;
  status: number;
  attempts: number;
  upstreamHeadersMs: number | null;
  usage: Usage | null;
  /** True when the client went away before the answer was complete. */
  aborted: boolean;
}

/** Headers that belong to one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'host', 'content-length']);

/** Request headers for the engine: the client's, minus hop-by-hop ones. */
export function upstreamRequestHeaders(h: IncomingHttpHeaders, bodyLength: number): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key in h) {
    const v = h[key];
    if (v !== undefined && !HOP_BY_HOP.has(key)) out[key] = v;
  }
  out['content-length'] = String(bodyLength);
  return out;
}

function responseHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key in h) {
    const v = h[key];
    if (v !== undefined && (key === 'content-length' || !HOP_BY_HOP.has(key))) out[key] = v;
  }
  return out;
}

/** The engine never got the request: trying another endpoint costs nothing. */
function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return err instanceof undiciErrors.ConnectTimeoutError || code === 'ECONNREFUSED' || code === 'EHOSTUNREACH'
    || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL';
}

/** The connection broke before any response header: the engine may have seen the request. */
function isBrokenBeforeHeaders(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}

/** The request to send. */
export interface ForwardRequest {
  readonly server: ServerEntry;
  /** Endpoints in the order to try, from the scheduler. */
  readonly order: readonly Endpoint[];
  /** Extra response headers (the decision header), computed once the serving endpoint is known. */
  readonly extraHeaders?: (endpoint: Endpoint) => Record<string, string> | null;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  readonly stream: boolean;
  readonly startedAt: number;
  /** Called once per attempt abandoned for another endpoint. */
  readonly onFailover: (reason: 'connect' | 'status') => void;
}

/**
 * Forwards and writes the answer to `res`. Throws a SluiceError when nothing was written and
 * Sluice must answer itself (no endpoint reachable, timeout).
 */
export async function forward(fr: ForwardRequest, res: ServerResponse): Promise<ForwardOutcome> {
  const { server } = fr;
  const order = fr.order;
  if (order.length === 0) {
    throw new SluiceError('SLUICE_NO_ENDPOINTS', `ModelServer ${server.key} has no ready endpoints; check its Ready condition`);
  }
  const ac = new AbortController();
  let timedOut = false;
  const timeoutMs = server.spec.timeoutMs;
  const timer = timeoutMs ? setTimeout(() => { timedOut = true; ac.abort(); }, Math.max(0, fr.startedAt + timeoutMs - Date.now())) : null;
  let clientGone = false;
  const onClose = () => {
    if (!res.writableFinished) {
      clientGone = true;
      ac.abort();
    }
  };
  res.on('close', onClose);

  let retriesLeft = server.spec.retry.attempts;
  const failures: string[] = [];
  const outcome: ForwardOutcome = { endpoint: null, status: 0, attempts: 0, upstreamHeadersMs: null, usage: null, aborted: false };
  try {
    for (let i = 0; ; i++) {
      const ep = order[i % order.length]!;
      outcome.attempts += 1;
      outcome.endpoint = ep;
      ep.inFlight += 1;
      try {
        const up = await ep.pool.request({ method: 'POST', path: fr.path, headers: fr.headers, body: fr.body, signal: ac.signal });
        outcome.upstreamHeadersMs = Date.now() - fr.startedAt;
        const canRetry = retriesLeft > 0;
        if (up.statusCode >= 500 && canRetry) {
          failures.push(`${ep.pod} answered ${up.statusCode}`);
          up.body.dump().catch(() => undefined);
          retriesLeft -= 1;
          fr.onFailover('status');
          await delay(server.spec.retry.intervalMs, undefined, { signal: ac.signal });
          continue;
        }
        outcome.status = up.statusCode;
        const headers = responseHeaders(up.headers);
        const extra = fr.extraHeaders?.(ep);
        if (extra) Object.assign(headers, extra);
        res.writeHead(up.statusCode, headers);
        const tap = new UsageTap(fr.stream);
        await new Promise<void>((resolve, reject) => {
          up.body.on('data', (chunk: Buffer) => {
            tap.push(chunk);
            if (!res.write(chunk)) {
              up.body.pause();
              res.once('drain', () => up.body.resume());
            }
          });
          up.body.on('end', () => resolve());
          up.body.on('error', reject);
        });
        res.end();
        outcome.usage = tap.usage();
        return outcome;
      } catch (err) {
        if (clientGone) {
          outcome.aborted = true;
          return outcome;
        }
        if (timedOut) {
          if (res.headersSent) {
            res.destroy();
            outcome.aborted = true;
            return outcome;
          }
          throw new SluiceError('SLUICE_UPSTREAM_TIMEOUT', `ModelServer ${server.key} did not answer within its trafficPolicy.timeout of ${timeoutMs}ms (last endpoint ${ep.pod})`);
        }
        if (res.headersSent) {
          // The stream broke after it started; the client sees a cut connection, as the engine's failure.
          res.destroy();
          outcome.aborted = true;
          return outcome;
        }
        const free = isConnectFailure(err);
        if (!free && !isBrokenBeforeHeaders(err)) throw new SluiceError('SLUICE_UPSTREAM_ERROR', `endpoint ${ep.pod} failed: ${(err as Error).message}`);
        failures.push(`${ep.pod}: ${(err as Error).message}`);
        if (free && i + 1 < order.length) {
          fr.onFailover('connect');
          continue;
        }
        if (retriesLeft > 0) {
          retriesLeft -= 1;
          fr.onFailover('connect');
          await delay(server.spec.retry.intervalMs, undefined, { signal: ac.signal });
          continue;
        }
        if (free) throw new SluiceError('SLUICE_NO_ENDPOINTS', `no endpoint of ModelServer ${server.key} could be reached: ${failures.join('; ')}`);
        throw new SluiceError('SLUICE_UPSTREAM_ERROR', `ModelServer ${server.key} failed before answering: ${failures.join('; ')}`);
      } finally {
        ep.inFlight -= 1;
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
    res.off('close', onClose);
  }
}
