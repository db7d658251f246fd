/**
 * The admin listener: snapshot intake from the operator, Prometheus metrics and debug dumps.
 * Not on the request path, so it uses express for readable routing.
 *
 *   PUT  /v1/snapshot               push token; 200 applied/unchanged, 400 invalid, 409 stale
 *   GET  /v1/snapshot               open: version and hash serving
 *   GET  /v1/snapshot?full=1        read or push token: the whole snapshot
 *   GET  /metrics                   open: Prometheus text format
 *   GET  /debug/config_dump/{modelroutes,modelservers,providers,pods,scheduler,auth,queues,kvevents}   read or push token
 *   GET  /healthz                   open
 *
 * Which token may do what, and why, is in admin-tokens.ts.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ERROR_CODES, errorBody, type ErrorCode } from '../../shared/errors/codes';
import type { Logger } from '../../shared/log/logger';
import type { EndpointRegistry } from '../proxy/endpoint-registry';
import type { SnapshotStore } from '../routing/snapshot-store';
import type { SchedulerEnv } from '../scheduler/scheduler-env';
import type { DataplaneMetrics } from './metrics';
import type { Governance } from './governance';
import { AdminTokens } from './admin-tokens';

/** What the admin listener needs. */
export interface AdminDeps {
  readonly pushToken: string | null;
  /** Token that may read the full snapshot and the dumps but not push; null for none. */
  readonly readToken?: string | null;
  readonly store: SnapshotStore;
  readonly registry: EndpointRegistry;
  readonly metrics: DataplaneMetrics;
  readonly log: Logger;
  readonly schedulerEnv: SchedulerEnv;
  readonly governance: Governance;
}

function send(res: Response, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): void {
  const body = JSON.parse(errorBody(code, message)) as { error: Record<string, unknown> };
  Object.assign(body.error, extra);
  res.status(ERROR_CODES[code].status).json(body);
}

/** RFC 7235 §3.1: a 401 names the scheme the client should use. */
const CHALLENGE = { 'www-authenticate': 'Bearer realm="sluice-admin"' };

/** Creates the admin express app. */
export function createAdminApp(deps: AdminDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const tokens = new AdminTokens(deps.pushToken, deps.readToken ?? null);

  const requirePush = (req: Request, res: Response, next: NextFunction) => {
    if (tokens.canPush(req.headers.authorization)) return next();
    res.set(CHALLENGE);
    send(res, 'SLUICE_UNAUTHORIZED', 'PUT /v1/snapshot needs Authorization: Bearer <push token> (the operator\'s and data plane\'s --push-token-file)');
  };
  const requireRead = (req: Request, res: Response, next: NextFunction) => {
    if (tokens.canRead(req.headers.authorization)) return next();
    res.set(CHALLENGE);
    send(res, 'SLUICE_UNAUTHORIZED', `${req.path}${req.query.full ? '?full=1' : ''} needs Authorization: Bearer <token>, the data plane's read token (--read-token-file) or its push token`);
  };

  app.put('/v1/snapshot', requirePush, express.json({ limit: '256mb' }), (req, res) => {
    // Provider credentials ride beside the snapshot in a push, never inside it (proxy/credentials.ts).
    const { credentials, ...snapshot } = (req.body ?? {}) as Record<string, unknown>;
    const result = deps.store.apply(snapshot, credentials);
    const missing = () => ({ credentialsMissing: deps.store.credentials.missing(deps.store.current()!.snapshot) });
    deps.metrics.snapshotApplies.labels(result.status).inc();
    switch (result.status) {
      case 'applied':
        deps.metrics.snapshotVersion.set(result.version);
        deps.log.info({ version: result.version, hash: result.hash }, 'snapshot applied');
        res.json({ ...result, ...missing() });
        return;
      case 'unchanged':
        res.json({ ...result, ...missing() });
        return;
      case 'invalid':
        deps.log.warn({ issues: result.issues }, 'snapshot refused: invalid; the previous one keeps serving');
        send(res, 'SLUICE_SNAPSHOT_INVALID', `snapshot refused, ${result.issues.length} problem(s): ${result.issues.slice(0, 5).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, { issues: result.issues });
        return;
      case 'stale':
        send(res, 'SLUICE_SNAPSHOT_STALE', result.message, { servingVersion: result.version });
    }
  });

  // The version and hash stay open (scripts and tests poll them); the content needs a token.
  app.get('/v1/snapshot', (req, res, next) => (req.query.full ? requireRead(req, res, next) : next()), (req, res) => {
    const table = deps.store.current();
    if (!table) return send(res, 'SLUICE_NOT_READY', 'no snapshot applied yet');
    const s = table.snapshot;
    // credentialsMissing: provider credentials this snapshot names that were never pushed here
    // (a restart from the snapshot file); the operator pushes again when it is not 0.
    res.json(req.query.full ? s : { version: s.version, hash: s.hash, generatedAt: s.generatedAt, credentialsMissing: deps.store.credentials.missing(s) });
  });

  app.get('/metrics', async (_req, res) => {
    let stale = 0;
    for (const ep of deps.registry.all()) {
      deps.metrics.inFlight.labels(ep.pod).set(ep.inFlight);
      if (ep.metrics.stale) stale++;
    }
    deps.metrics.staleEndpoints.set(stale);
    for (const [server, q] of Object.entries(deps.governance.queueStats())) {
      deps.metrics.queueRequests.labels(server).set(q.queued);
      deps.metrics.queueBytes.labels(server).set(q.bytes);
    }
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/debug/config_dump/:what', requireRead, (req, res) => {
    const table = deps.store.current();
    if (!table) return send(res, 'SLUICE_NOT_READY', 'no snapshot applied yet');
    switch (req.params.what) {
      case 'modelroutes':
        return void res.json({ version: table.snapshot.version, routes: table.snapshot.routes });
      case 'modelservers':
        return void res.json({ version: table.snapshot.version, servers: table.snapshot.servers });
      case 'pods':
        return void res.json({
          version: table.snapshot.version,
          pods: [...table.servers.values()].flatMap((s) => s.endpoints.map((e) => ({ server: s.key, pod: e.pod, origin: e.origin, engine: e.engine, inFlight: e.inFlight, metrics: e.metrics }))),
        });
      case 'scheduler':
        return void res.json({
          version: table.snapshot.version,
          configs: table.snapshot.schedulers,
          servers: Object.fromEntries(table.snapshot.servers.map((s) => [s.key, s.scheduler])),
          prefixIndexBlocksPerEndpoint: deps.schedulerEnv.dump(),
        });
      case 'auth':
        return void res.json({ version: table.snapshot.version, ...deps.governance.auth.status() });
      case 'queues':
        return void res.json({ version: table.snapshot.version, fairness: table.snapshot.fairness ?? null, queues: deps.governance.queueStats(), trackedUsers: deps.governance.usage.size });
      case 'providers':
        // Which credential each provider uses and whether it is held; never the value.
        return void res.json({
          version: table.snapshot.version,
          providers: (table.snapshot.providers ?? []).map((p) => ({ ...p, credential: p.credential ? { ...p.credential, held: deps.store.credentials.get(p.credential.version) !== undefined } : undefined })),
        });
      case 'kvevents':
        return void res.json({ version: table.snapshot.version, ...deps.schedulerEnv.dumpKvEvents() });
      default:
        return send(res, 'SLUICE_NOT_FOUND', `no dump ${req.params.what}; try modelroutes, modelservers, providers, pods, scheduler, auth, queues or kvevents`);
    }
  });

  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok\n'));

  app.use((_req: Request, res: Response) => send(res, 'SLUICE_NOT_FOUND', 'no such admin endpoint'));
  // express turns body-parser failures (bad JSON, too large) into errors with a status.
  app.use((err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.status === 400) return send(res, 'SLUICE_SNAPSHOT_INVALID', `snapshot body is not valid JSON: ${err.message}`);
    if (err.status === 413) return send(res, 'SLUICE_BODY_TOO_LARGE', err.message);
    deps.log.error({ err }, 'admin request failed');
    send(res, 'SLUICE_INTERNAL', 'internal error');
  });
  return app;
}
