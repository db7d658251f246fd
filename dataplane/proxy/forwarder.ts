/**
 * Sends one inference request to a ModelServer's endpoints and streams the answer back.
 *
 * Order: as the scheduler ranked the endpoints (dataplane/scheduler). A connect failure moves on
 * to the next endpoint at no cost, since the engine never saw the request. A 5xx before any byte
 * reached the client (or a connection that breaks before the headers) is retried on the next
 * endpoint while `trafficPolicy.retry.attempts` lasts, after `retryInterval`; the last 5xx is
 * passed through unchanged, as is every 4xx, but one: a 404 to a request naming a LoRA adapter
 * means this engine has not loaded the adapter (vLLM: "The model `x` does not exist"), so the next
 * endpoint is tried at no cost, as for a connect failure; the last endpoint's 404 is passed
 * through. Without lora-affinity the scheduler does not know who has the adapter, and with it the
 * metrics it reads can be a scrape behind an unload.
 *
 * Deadlines (docs/traffic-policy.md#deadlines): `trafficPolicy.timeout` bounds the wait for the
 * response headers, from the request's arrival, retries included: 504 when none were relayed in
 * time, nothing once they were, so a long stream is never cut (Kthena's timeout, too, ends at the
 * response headers). Without it, the data plane's first-byte deadline
 * (`--upstream-first-byte-timeout-ms`, from the start of forwarding) plays that part. The
 * ModelServer annotation `sluice.dev/request-deadline` bounds the whole exchange from arrival:
 * 504 before the headers, a cut stream after. A client that goes away aborts the upstream request.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errors as undiciErrors } from 'undici';
import { SluiceError } from '../../shared/errors/codes';
import type { Endpoint } from './endpoint-registry';
import { RelayHandler, type AttemptResult, type GapObserver } from './relay-handler';
import { endToEndHeaders } from './hop-by-hop';
import { UsageTap, type Usage } from './usage-tap';

/** What was forwarded where, for the access log and metrics. */
export interface ForwardOutcome {
  endpoint: Endpoint | null;
  status: number;
  attempts: number;
  upstreamHeadersMs: number | null;
  /** Milliseconds from the request's start to the first body byte relayed (time to first token). */
  firstByteMs: number | null;
  usage: Usage | null;
  /** JSON events of a streamed answer (the output-token estimate when it carried no usage). */
  streamEvents: number;
  /** True when the client went away (or the stream was cut) before the answer was complete. */
  aborted: boolean;
}

/** Request headers for the engine: the client's, minus hop-by-hop ones and `expect`. */
export function upstreamRequestHeaders(h: IncomingHttpHeaders, bodyLength: number): Record<string, string | string[]> {
  const out = endToEndHeaders(h, true);
  out['content-length'] = String(bodyLength);
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

/** What is forwarded to: a ModelServer (a ServerEntry) or an ExternalModelProvider. */
export interface ForwardTarget {
  readonly key: string;
  /** For messages; a ModelServer when unset. */
  readonly kind?: 'ModelServer' | 'ExternalModelProvider';
  readonly spec: {
    readonly timeoutMs?: number;
    readonly deadlineMs?: number;
    readonly retry: { readonly attempts: number; readonly intervalMs: number };
  };
}

/** TLS verification failures (Node's codes), which the one who configured the provider can fix. */
const CERT_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED']);

function certificateHint(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code && CERT_ERRORS.has(code)
    ? ` (${code}: the certificate is not trusted; give the data plane its CA with NODE_EXTRA_CA_CERTS, or set insecureSkipVerify: true on the ExternalModelProvider)`
    : '';
}

/** The request to send. */
export interface ForwardRequest {
  readonly server: ForwardTarget;
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
  readonly onFailover: (reason: FailoverReason) => void;
  /** The LoRA adapter the request names, if it does: an engine's 404 then moves to the next endpoint. */
  readonly loraAdapter?: string;
  /**
   * Longest wait for relayed response headers, from the call, when the ModelServer sets no
   * `trafficPolicy.timeout`; 0 or unset for none.
   */
  readonly firstByteTimeoutMs?: number;
  /** For a streamed request: observes the gaps between the answer's events (inter-token latency). */
  readonly interToken?: GapObserver | null;
}

/** Why an attempt was abandoned for another endpoint (the `reason` label of the failover counter). */
export type FailoverReason = 'connect' | 'status' | 'lora-not-loaded';

/** Why an attempt was stopped by Sluice. */
type Halt = 'timeout' | 'first-byte' | 'deadline' | 'client';

class Stop extends Error {}

/**
 * Forwards and writes the answer to `res`. Throws a SluiceError when nothing was written and
 * Sluice must answer itself (no endpoint reachable, timeout).
 */
export async function forward(fr: ForwardRequest, res: ServerResponse): Promise<ForwardOutcome> {
  const { server, order } = fr;
  const what = `${server.kind ?? 'ModelServer'} ${server.key}`;
  if (order.length === 0) {
    throw new SluiceError('SLUICE_NO_ENDPOINTS', `${what} has no ready endpoints; check its Ready condition`);
  }
  const outcome: ForwardOutcome = { endpoint: null, status: 0, attempts: 0, upstreamHeadersMs: null, firstByteMs: null, usage: null, streamEvents: 0, aborted: false };
  let current: RelayHandler | null = null;
  let wake: (() => void) | null = null;
  let stop: Halt | null = null;
  const halt = (why: Halt) => {
    if (stop) return;
    stop = why;
    current?.abort(new Stop(why));
    wake?.();
  };
  const { timeoutMs, deadlineMs } = server.spec;
  // Header deadlines do nothing once headers reached the client; the request deadline always acts.
  const firstByteMs = timeoutMs ? 0 : fr.firstByteTimeoutMs ?? 0;
  const timers: NodeJS.Timeout[] = [];
  if (timeoutMs) timers.push(setTimeout(() => { if (!res.headersSent) halt('timeout'); }, Math.max(0, fr.startedAt + timeoutMs - Date.now())));
  else if (firstByteMs) timers.push(setTimeout(() => { if (!res.headersSent) halt('first-byte'); }, firstByteMs));
  if (deadlineMs) timers.push(setTimeout(() => halt('deadline'), Math.max(0, fr.startedAt + deadlineMs - Date.now())));
  const timeoutError = (detail: string) => new SluiceError('SLUICE_UPSTREAM_TIMEOUT', stop === 'timeout'
    ? `${what} sent no response headers within its trafficPolicy.timeout of ${timeoutMs}ms (${detail})`
    : stop === 'deadline'
      ? `${what} did not answer within its sluice.dev/request-deadline of ${deadlineMs}ms (${detail})`
      : `${what} sent no response headers within ${firstByteMs}ms (the data plane's --upstream-first-byte-timeout-ms${server.kind === 'ExternalModelProvider' ? '' : ', which applies because the ModelServer sets no trafficPolicy.timeout'}) (${detail})`);
  const onClose = () => {
    if (!res.writableFinished) halt('client');
  };
  res.on('close', onClose);

  let retriesLeft = server.spec.retry.attempts;
  const failures: string[] = [];
  try {
    for (let i = 0; ; i++) {
      const ep = order[i % order.length]!;
      outcome.attempts += 1;
      outcome.endpoint = ep;
      const tap = new UsageTap();
      ep.inFlight += 1;
      let result: AttemptResult;
      try {
        result = await new Promise<AttemptResult>((resolve) => {
          // A 404 is dropped only while an untried endpoint remains (the first pass over the order).
          const discard404 = fr.loraAdapter !== undefined && i + 1 < order.length;
          current = new RelayHandler(res, retriesLeft > 0, discard404, tap, fr.extraHeaders?.(ep) ?? null, fr.startedAt, fr.stream ? fr.interToken ?? null : null, resolve);
          if (stop) current.abort(new Stop(stop));
          else ep.pool.dispatch({ method: 'POST', path: fr.path, headers: fr.headers, body: fr.body, headersTimeout: 0, bodyTimeout: 0 }, current);
        });
      } finally {
        ep.inFlight -= 1;
      }
      const headersMs = current!.headersAfterMs;
      const firstByteMs = current!.firstByteAfterMs;
      current = null;
      if (headersMs !== null) outcome.upstreamHeadersMs = headersMs;
      if (firstByteMs !== null) outcome.firstByteMs = firstByteMs;
      if (result.kind === 'relayed') {
        outcome.status = result.status;
        outcome.usage = tap.usage();
        outcome.streamEvents = tap.events;
        return outcome;
      }
      // A cut stream was still generated up to here: what the client got counts as output.
      outcome.streamEvents = tap.events;
      if (stop === 'client') {
        outcome.aborted = true;
        return outcome;
      }
      if (stop !== null) {
        if (res.headersSent) {
          res.destroy();
          outcome.aborted = true;
          return outcome;
        }
        throw timeoutError(`last endpoint ${ep.pod}`);
      }
      if (result.kind === 'failed' && result.relaying) {
        // The stream broke after it started; the client sees a cut connection, as the engine's failure.
        res.destroy();
        outcome.aborted = true;
        return outcome;
      }
      let free = false;
      if (result.kind === 'discarded' && result.status === 404) {
        // The engine refused before generating anything: moving on costs no retry attempt.
        failures.push(`${ep.pod} answered 404 (LoRA adapter ${fr.loraAdapter} not loaded there)`);
        fr.onFailover('lora-not-loaded');
        continue;
      }
      if (result.kind === 'discarded') {
        failures.push(`${ep.pod} answered ${result.status}`);
      } else {
        const err = result.error;
        free = isConnectFailure(err);
        if (!free && !isBrokenBeforeHeaders(err)) throw new SluiceError('SLUICE_UPSTREAM_ERROR', `${server.kind === 'ExternalModelProvider' ? what : 'endpoint'} ${ep.pod} failed: ${err.message}${certificateHint(err)}`);
        failures.push(`${ep.pod}: ${err.message}`);
      }
      if (free && i + 1 < order.length) {
        fr.onFailover('connect');
        continue;
      }
      if (retriesLeft <= 0) {
        // A provider is one address, not a fleet: unreachable is a gateway error (502), as Kthena answers.
        if (free && server.kind !== 'ExternalModelProvider') throw new SluiceError('SLUICE_NO_ENDPOINTS', `no endpoint of ${what} could be reached: ${failures.join('; ')}`);
        throw new SluiceError('SLUICE_UPSTREAM_ERROR', `${what} ${free ? 'could not be reached' : 'failed before answering'}: ${failures.join('; ')}`);
      }
      retriesLeft -= 1;
      fr.onFailover(free ? 'connect' : 'status');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, server.spec.retry.intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
      if (stop === 'client') {
        outcome.aborted = true;
        return outcome;
      }
      if (stop !== null) throw timeoutError(`retrying after: ${failures.join('; ')}`);
    }
  } finally {
    for (const t of timers) clearTimeout(t);
    res.off('close', onClose);
  }
}
