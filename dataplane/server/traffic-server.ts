/**
 * The traffic listener: the OpenAI API in front of the engines. Plain node:http (see
 * docs/adr/0001-node-http-on-the-traffic-path.md). Per request: read and parse the body once,
 * match the route on the table current at arrival, pick a target by weight, rewrite `model` for
 * base-model requests, forward, then write one access-log line and the metrics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ERROR_CODES, SluiceError, type ErrorCode } from '../../shared/errors/codes';
import type { Logger } from '../../shared/log/logger';
import { forward, upstreamRequestHeaders, type FailoverReason, type ForwardOutcome } from '../proxy/forwarder';
import { forwardPd, pairOrder } from '../proxy/pd-forwarder';
import type { LoraLoader } from '../proxy/lora-loader';
import type { ProviderEntry, RouteMatch, ServerEntry } from '../routing/routing-table';
import { providerRequest } from '../proxy/provider-request';
import type { SnapshotStore } from '../routing/snapshot-store';
import { PrefixHashes } from '../scheduler/prefix-hashes';
import { promptText } from '../scheduler/prompt-text';
import type { ScoreBreakdown } from '../scheduler/scheduler';
import type { SchedulingRequest } from '../scheduler/types';
import type { Endpoint } from '../proxy/endpoint-registry';
import type { DataplaneSettings } from '../settings';
import type { Identity } from '../../shared/config/router-policy';
import { QueueCancelledError, type QueueRelease } from '../queue/fair-queue';
import { spentFrom, type Governance, type RateTicket } from './governance';
import { sendError } from './http-errors';
import { estimateInputTokens } from './token-estimate';
import type { DataplaneMetrics } from './metrics';
import { parseBody, readBody } from './request-body';
import { BodyBudget } from './body-budget';

/** What the traffic listener needs. */
export interface TrafficDeps {
  readonly settings: DataplaneSettings;
  readonly store: SnapshotStore;
  readonly metrics: DataplaneMetrics;
  readonly log: Logger;
  readonly governance: Governance;
  readonly loraLoader: LoraLoader;
}

const INFERENCE_PATHS = new Set(['/v1/completions', '/v1/chat/completions', '/v1/embeddings']);
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;

/** Everything known about a request by the time it is logged. */
interface RequestRecord {
  id: string;
  path: string;
  model?: string;
  stream?: boolean;
  match?: RouteMatch;
  server?: ServerEntry;
  outcome?: ForwardOutcome;
  code?: ErrorCode;
  error?: string;
  identity?: Identity;
  /** Estimated prompt tokens, computed once when something needs it. */
  estimate?: number;
  rate?: RateTicket | null;
  /** The server's queue let the request through (and charged its estimate to the user). */
  queued?: boolean;
  queueWaitMs?: number;
  /** PD: the prefill pod of the pair that answered. */
  prefill?: string;
  /** Set instead of `server` when the target was an ExternalModelProvider. */
  provider?: ProviderEntry;
}

/**
 * Creates (but does not start) the traffic server.
 *
 * Timeouts: the headers must arrive within `--headers-timeout-ms` and the body within
 * `--request-body-timeout-ms` (408, read by readBody so the answer carries a code). Node's own
 * `requestTimeout` is a backstop a little above both: it only runs until the request is
 * received, so it never cuts a long streamed response. An idle keep-alive connection closes after
 * `--keep-alive-timeout-ms` (above the 60 s idle timeout of common load balancers, so they close
 * first and never send on a connection we are closing).
 */
export function createTrafficServer(deps: TrafficDeps): Server {
  const s = deps.settings;
  const budget = new BodyBudget(s.maxInflightBodyBytes);
  const server = createServer({
    keepAliveTimeout: s.keepAliveTimeoutMs,
    headersTimeout: s.headersTimeoutMs,
    requestTimeout: s.headersTimeoutMs + s.requestBodyTimeoutMs + 1_000,
  }, (req, res) => {
    handle(deps, budget, req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'unhandled error in request handler');
      sendError(res, 'SLUICE_INTERNAL', 'internal error; see the data-plane log');
    });
  });
  return server;
}

async function handle(deps: TrafficDeps, budget: BodyBudget, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (INFERENCE_PATHS.has(path)) {
    if (req.method !== 'POST') return fail(deps, res, 'SLUICE_METHOD_NOT_ALLOWED', `${path} accepts POST only`);
    return inference(deps, budget, req, res, path);
  }
  const known = path === '/v1/models' || path === '/models' || path === '/healthz' || path === '/readyz';
  if (known && req.method !== 'GET' && req.method !== 'HEAD') {
    return fail(deps, res, 'SLUICE_METHOD_NOT_ALLOWED', `${path} accepts GET only`);
  }
  switch (path) {
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/readyz': {
      const table = deps.store.current();
      if (!table) return fail(deps, res, 'SLUICE_NOT_READY', 'no routing snapshot received yet; the operator pushes one, or start with --snapshot-file');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ready: snapshot version ${table.snapshot.version}\n`);
      return;
    }
    // `/models` is an alias for clients whose base URL has no `/v1` (issue 12, Kthena parity);
    // one case, so the auth rules cannot drift apart.
    case '/v1/models':
    case '/models': {
      const table = deps.store.current();
      if (!table) return fail(deps, res, 'SLUICE_NOT_READY', 'no routing snapshot received yet');
      // With auth on, the list of served models and adapters is for authenticated callers too,
      // unless the router configuration opens it (auth.publicModelList; docs/auth.md).
      if (table.snapshot.auth && !table.snapshot.auth.publicModelList) {
        try {
          const who = deps.governance.authenticate(req.headers);
          if (who instanceof Promise) await who;
        } catch (err) {
          if (err instanceof SluiceError) return fail(deps, res, err.code, err.message);
          throw err;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': table.modelsBody.length }).end(table.modelsBody);
      return;
    }
    default:
      return fail(deps, res, 'SLUICE_NOT_FOUND', `no endpoint ${path}; Sluice serves /v1/completions, /v1/chat/completions, /v1/embeddings and /v1/models (also as /models)`);
  }
}

function fail(deps: TrafficDeps, res: ServerResponse, code: ErrorCode, message: string): void {
  deps.metrics.errors.labels(code).inc();
  sendError(res, code, message);
}

async function inference(deps: TrafficDeps, budget: BodyBudget, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const startedAt = Date.now();
  const t0 = process.hrtime.bigint();
  const incomingId = req.headers['x-request-id'];
  const rec: RequestRecord = { id: typeof incomingId === 'string' ? incomingId : `${ID_PREFIX}-${++idCounter}`, path };
  let json: Record<string, unknown> | null = null;
  const estimate = () => (rec.estimate ??= json ? estimateInputTokens(json) : 0);
  try {
    const table = deps.store.current();
    if (!table) throw new SluiceError('SLUICE_NOT_READY', 'no routing snapshot received yet; the operator pushes one, or start with --snapshot-file');
    // Authenticate on the headers before reading a byte of the body: an unauthenticated client
    // must not be able to make the data plane hold memory for it.
    const who = deps.governance.authenticate(req.headers);
    const identity = who instanceof Promise ? await who : who;
    rec.identity = identity;
    const reading = readBody(req, { maxBytes: deps.settings.maxBodyBytes, timeoutMs: deps.settings.requestBodyTimeoutMs, budget });
    // The buffered body lives until the answer is sent (it may be forwarded again on failover).
    res.once('close', reading.release);
    const raw = await reading.body;
    const body = parseBody(raw, deps.settings.maxJsonDepth);
    json = body.json;
    rec.model = body.model;
    rec.stream = body.stream;
    const match = table.match({ model: body.model, path, headers: req.headers });
    if (!match) {
      throw new SluiceError('SLUICE_MODEL_NOT_FOUND', table.servesName(body.model)
        ? `no rule of the routes for model ${JSON.stringify(body.model)} matched this request (check the rules' modelMatch headers and uri)`
        : `model ${JSON.stringify(body.model)} is not served; GET /v1/models lists the served models`);
    }
    rec.match = match;
    const target = match.rule.picker.pick();
    if (!target) throw new SluiceError('SLUICE_NO_ENDPOINTS', `every target of rule ${match.rule.name} in route ${match.route.key} has weight 0`);
    if (target.missing !== undefined) {
      throw new SluiceError('SLUICE_TARGET_UNRESOLVED', `rule ${match.rule.name} of route ${match.route.key} sends this request to ${target.external ? 'ExternalModelProvider' : 'ModelServer'} ${target.missing}, which does not exist`);
    }
    // Rate limit after routing: a request that matches no route, or an unusable one, spends nothing.
    const admitRate = async () => {
      const t = deps.governance.admitRate(match.route, identity, estimate());
      rec.rate = t instanceof Promise ? await t : t;
    };
    if (target.provider) {
      const provider = target.provider;
      rec.provider = provider;
      if (provider.spec.unavailable) throw new SluiceError('SLUICE_PROVIDER_UNAVAILABLE', `${provider.spec.unavailable}; see its Ready condition`);
      const cred = provider.spec.credential;
      const credential = cred ? deps.store.credentials.get(cred.version) : undefined;
      if (cred && credential === undefined) {
        throw new SluiceError('SLUICE_PROVIDER_UNAVAILABLE', `ExternalModelProvider ${provider.key}: this data plane does not hold its credential (Secret ${cred.secret}, key ${cred.key}) yet; the operator delivers it with its next push or check`);
      }
      if (match.route.spec.rateLimit) await admitRate();
      const out = providerRequest(provider, path, req.headers, body.json, raw, credential ?? null);
      rec.outcome = await forward({
        server: provider.target, order: [provider.endpoint], path: out.path, headers: out.headers, body: out.body, stream: body.stream, startedAt,
        extraHeaders: rec.rate?.headers ? () => rec.rate!.headers! : undefined,
        onFailover: () => undefined,
        firstByteTimeoutMs: deps.settings.upstreamFirstByteTimeoutMs,
        interToken: body.stream ? deps.metrics.interTokenOf(provider.key) : null,
      }, res);
    } else {
      const server = target.server;
      rec.server = server;
      if (server.endpoints.length === 0) {
        throw new SluiceError('SLUICE_NO_ENDPOINTS', `ModelServer ${server.key} has no ready endpoints; check its Ready condition`);
      }
      if (match.route.spec.rateLimit) await admitRate();
      const queue = deps.governance.queueOf(server);
      let release: QueueRelease | null = null;
      if (queue) {
        const abort = new AbortController();
        const onGone = () => abort.abort();
        res.once('close', onGone);
        try {
          const admitted = deps.governance.admitQueue(queue, req.headers, identity, raw.length, estimate(), abort.signal);
          if (admitted !== true) {
            release = await admitted;
            rec.queueWaitMs = release.waitMs;
          }
        } finally {
          res.off('close', onGone);
        }
        rec.queued = true;
        if (res.destroyed) {
          // Released in the same turn the client hung up: give the slot back instead of sending.
          release?.claim();
          throw new QueueCancelledError(server.key, rec.queueWaitMs ?? 0, null);
        }
      }
      // Precise prefix scoring needs the engine's token ids: in process (sync) or from the pod (bounded wait).
      let tokens: Uint32Array | null = null;
      if (server.tokenizer) {
        // The engine knows its model by the ModelServer's name for it (a /tokenize call names it).
        const engineModel = !match.isLora && server.spec.model !== undefined ? server.spec.model : body.model;
        const started = process.hrtime.bigint();
        const t = server.tokenizer.tokens(engineModel === body.model ? body.json : { ...body.json, model: engineModel }, server.endpoints, server.scheduler.tokensNeeded());
        tokens = t instanceof Promise ? await t : t;
        deps.metrics.tokenizeBy[server.spec.tokenizer?.kind ?? 'engine'][tokens ? 'ok' : 'unavailable'].observe(Number(process.hrtime.bigint() - started) / 1e9);
      }
      const sreq: SchedulingRequest = { model: body.model, lora: match.isLora ? body.model : null, hashes: new PrefixHashes(() => promptText(body.json), tokens) };
      const decision = server.scheduler.schedule(sreq, server.endpoints, deps.settings.decisionHeader, server.pd ? 'decode' : null);
      if (decision.bypassed) deps.metrics.filterBypasses.labels(server.key).inc(decision.bypassed);
      const cap = server.spec.queue?.maxInFlightPerEndpoint;
      let order: readonly Endpoint[] = cap === undefined ? decision.order : withRoomFirst(decision.order, cap);
      // Opt-in: an adapter request goes where the adapter is, loading it on the scheduler's choice if nowhere.
      if (match.isLora && server.spec.loraLoad) {
        const left = server.spec.timeoutMs ? Math.max(1, startedAt + server.spec.timeoutMs - Date.now()) : 60_000;
        order = await deps.loraLoader.orderFor(order, body.model, server.spec.loraLoad.pathTemplate.replaceAll('{name}', body.model), left);
      }
      const model = server.spec.model;
      if (!match.isLora && model !== undefined && model !== body.model) body.json.model = model;
      const headers = upstreamRequestHeaders(req.headers, 0);
      // Sluice's credential is for Sluice: an engine never sees the client's key or token.
      if (table.snapshot.auth) {
        delete headers.authorization;
        delete headers['x-api-key'];
      }
      const rateHeaders = rec.rate?.headers;
      const explain = decision.explanations;
      let prefillPod: string | null = null;
      const common = {
        server,
        extraHeaders: explain || rateHeaders
          ? (ep: Endpoint) => ({ ...rateHeaders, ...(explain ? decisionHeader(decision.profile, ep, explain.get(ep), prefillPod) : {}) })
          : undefined,
        path,
        headers,
        stream: body.stream,
        startedAt,
        onFailover: (reason: FailoverReason) => deps.metrics.failovers.labels(server.key, reason).inc(),
        firstByteTimeoutMs: deps.settings.upstreamFirstByteTimeoutMs,
        interToken: body.stream ? deps.metrics.interTokenOf(server.key) : null,
      };
      let sending: Promise<ForwardOutcome>;
      let picked: Endpoint;
      if (server.pd) {
        // PD: the decode order from the scheduler, each decode pod paired with the best prefill pods of its group.
        const prefillOrder = server.scheduler.schedule(sreq, server.pd.prefill, false, 'prefill').order;
        const pairs = pairOrder(order, prefillOrder, server.pd.groupOf);
        picked = pairs[0]?.decode ?? order[0]!;
        prefillPod = pairs[0]?.prefill.pod ?? null;
        if (pairs[0]) server.scheduler.served(sreq, pairs[0].prefill);
        sending = forwardPd({ ...common, json: body.json, pairs, onPair: (pair) => { prefillPod = pair.prefill.pod; rec.prefill = pair.prefill.pod; } }, res);
      } else {
        picked = order[0]!;
        const out = body.json.model === body.model ? raw : Buffer.from(JSON.stringify(body.json));
        headers['content-length'] = String(out.length);
        sending = forward({ ...common, order, body: out, loraAdapter: match.isLora ? body.model : undefined }, res);
      }
      // Record the pick at once (as Kthena's PostSchedule does): the next request of the same group
      // may arrive long before this one's stream ends, and must find its prefix where it is going.
      server.scheduler.served(sreq, picked);
      // forward() counted the first endpoint in flight before its first await: the queue's slot is taken.
      release?.claim();
      rec.outcome = await sending;
      const served = rec.outcome.endpoint;
      // After a failover the endpoint that answered holds the prefix too; teach the index the truth.
      if (served && served !== picked && rec.outcome.status > 0 && rec.outcome.status < 400) server.scheduler.served(sreq, served);
    }
  } catch (err) {
    if (err instanceof QueueCancelledError) {
      rec.error = err.message;
      res.destroy();
    } else {
      const e = err instanceof SluiceError ? err : new SluiceError('SLUICE_INTERNAL', 'internal error; see the data-plane log');
      if (!(err instanceof SluiceError)) deps.log.error({ err, requestId: rec.id }, 'request failed');
      rec.code = e.code;
      rec.error = e.message;
      deps.metrics.errors.labels(e.code).inc();
      // A body left unread (refused before or while reading it) would otherwise have to be read
      // to reuse the connection: close it instead.
      const close = req.complete ? undefined : { connection: 'close' };
      sendError(res, e.code, e.message, { 'x-request-id': rec.id, ...(err as { headers?: Record<string, string> }).headers, ...close });
    }
  }
  if (rec.identity && rec.match && (rec.rate || rec.queued || deps.governance.tracksUsage)) {
    const o = rec.outcome;
    const relayed = o !== undefined && o.status > 0;
    deps.governance.settle(rec.identity, rec.server ?? null, rec.rate ?? null, rec.queued === true, estimate(),
      o ? spentFrom(o.usage, o.streamEvents, relayed, estimate()) : { input: 0, output: 0 });
  }
  finish(deps, rec, res, t0);
}

/** The scheduler's order with endpoints under the per-endpoint in-flight cap first (stable). */
function withRoomFirst(order: readonly Endpoint[], cap: number): readonly Endpoint[] {
  if (order.every((ep) => ep.inFlight < cap)) return order;
  return [...order.filter((ep) => ep.inFlight < cap), ...order.filter((ep) => ep.inFlight >= cap)];
}

/** `x-sluice-decision: endpoint=ns/pod; profile=default; total=0.812; least-request=1.000*1; ...` */
function decisionHeader(profile: string, ep: Endpoint, b: ScoreBreakdown | undefined, prefill: string | null = null): Record<string, string> {
  const parts = [`endpoint=${ep.pod}`, `profile=${profile}`];
  if (prefill) parts.push(`prefill=${prefill}`);
  if (b) {
    parts.push(`total=${b.total.toFixed(3)}`);
    if (b.filtered) parts.push('filtered=true');
    for (const s of b.scores) parts.push(`${s.plugin}=${s.score.toFixed(3)}*${s.weight}`);
  }
  return { 'x-sluice-decision': parts.join('; ') };
}

function finish(deps: TrafficDeps, rec: RequestRecord, res: ServerResponse, t0: bigint): void {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const status = rec.outcome?.status || (rec.code ? ERROR_CODES[rec.code].status : res.statusCode);
  const route = rec.match?.route.key ?? '';
  const server = rec.server?.key ?? rec.provider?.key ?? '';
  const o = rec.outcome;
  deps.metrics.observeRequest(route, server, status, seconds, o?.upstreamHeadersMs != null ? o.upstreamHeadersMs / 1000 : null,
    o?.firstByteMs != null ? o.firstByteMs / 1000 : null);
  if (o?.usage) deps.metrics.tokens(route, o.usage.promptTokens, o.usage.completionTokens);
  if (!deps.settings.accessLog) return;
  deps.log.info({
    msg: 'access',
    requestId: rec.id,
    path: rec.path,
    model: rec.model,
    stream: rec.stream,
    route,
    rule: rec.match?.rule.name,
    lora: rec.match?.isLora,
    server,
    backend: rec.provider ? 'external' : undefined,
    endpoint: rec.provider ? undefined : o?.endpoint?.pod,
    prefill: rec.prefill,
    attempts: o?.attempts,
    status,
    code: rec.code,
    error: rec.error,
    aborted: o?.aborted || undefined,
    durationMs: Math.round(seconds * 1e4) / 10,
    upstreamHeadersMs: o?.upstreamHeadersMs ?? undefined,
    promptTokens: o?.usage?.promptTokens,
    completionTokens: o?.usage?.completionTokens,
    user: rec.identity && rec.identity.via !== 'anonymous' ? rec.identity.user : undefined,
    tier: rec.identity?.tier ?? undefined,
    queueWaitMs: rec.queueWaitMs,
  });
}
