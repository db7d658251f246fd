import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyGuard, apiKeysOf, UNAUTHORIZED_BODY } from './api-key-auth';
import { Engine, type PodRole } from './engine';
import { FaultInjector, parseFaultRule } from './faults';
import { ApiError, delay, parseJson, readBody, sendError, sendJson, sendText } from './http-util';
import { handleEmbeddings } from './embeddings';
import { handleInference, type InferenceContext } from './inference';
import { KvEventsPublisher, type KvEventsSpec } from './kv-events-publisher';
import type { EngineFlavour } from './metrics';
import { renderMetrics } from './metrics-render';
import type { PdPeer } from './pd-peer';
import { createPodServer, hasTls, type PodServer, type PodTlsFiles } from './pod-listener';
import { PD_REGISTRY } from './pd-registry';
import type { EngineProfile } from './profile';
import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { handleTokenize } from './tokenize-endpoint';

/**
 * One simulated pod: an Engine behind its own HTTP server on ip:port (HTTPS with vLLM's
 * --ssl-keyfile/--ssl-certfile, /v1 behind vLLM's --api-key when set), serving the vLLM-style API,
 * /metrics in its flavour's naming, and the simulator's test hooks (/sim/state, /sim/faults).
 * While listening it is registered with the process-wide PD registry (pd-registry.ts), so pods
 * can hand prompt KV to each other.
 */

/** Distinguishes NIXL engine ids of pods with the same name across simulators in one process. */
const PROCESS_TAG = randomUUID().slice(0, 6);
let engineSeq = 0;

/** One simulated pod as configured on the command line or in SimOptions. */
export interface SimPodSpec extends PodTlsFiles {
  name: string;
  namespace?: string;
  /** Loopback address to bind, e.g. 127.0.0.2. */
  ip: string;
  /** Port to bind; 0 picks an ephemeral port (see SimPod.port). */
  port: number;
  /** Served base model name. */
  model: string;
  /** Which engine's /metrics naming to imitate (default vllm). */
  engine?: EngineFlavour;
  /** LoRA adapters known at start; the first maxLoras are resident. */
  loras?: string[];
  /** Prefill/decode disaggregation role (default both). */
  role?: PodRole;
  /** PD group: the value of the ModelServer's pdGroup.groupKey label; KV moves only within a group. */
  group?: string;
  /** Publish vLLM KV events on tcp://<ip>:<port> (kv-events-publisher.ts); off when unset. */
  kvEvents?: KvEventsSpec;
  /**
   * vLLM's `--api-key`: requests under /v1 need `Authorization: Bearer <key>` (any of several), else
   * 401 (api-key-auth.ts). Off when unset or empty. With `sslKeyfile`/`sslCertfile` the pod serves HTTPS.
   */
  apiKey?: string | string[];
}

/** Public identity of a running pod (what `engine-sim ready` prints). */
export interface SimPodInfo {
  name: string;
  namespace: string;
  ip: string;
  port: number;
  url: string;
  model: string;
  engine: EngineFlavour;
  role: PodRole;
  /** PD group, when the pod has one. */
  group?: string;
  /** NIXL engine id (`remote_engine_id` of this pod's prefills). */
  kvEngineId: string;
  loras: string[];
  /** KV-event addresses, when the pod publishes them. */
  kvEvents?: { address: string; replayAddress: string | null; topic: string };
}

/** Paths served, with their methods; other methods get 405, other paths 404. */
const ROUTES: Record<string, readonly string[]> = {
  '/v1/completions': ['POST'],
  '/v1/chat/completions': ['POST'],
  '/v1/embeddings': ['POST'],
  '/v1/models': ['GET'],
  '/v1/load_lora_adapter': ['POST'],
  '/v1/unload_lora_adapter': ['POST'],
  '/health': ['GET'],
  '/metrics': ['GET'],
  '/reset_prefix_cache': ['POST'],
  '/tokenize': ['POST'],
  '/sim/state': ['GET'],
  '/sim/faults': ['GET', 'POST', 'DELETE'],
};

/** A simulated inference pod: an Engine behind its own HTTP server on ip:port. */
export class SimPod implements PdPeer {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly model: string;
  readonly flavour: EngineFlavour;
  readonly role: PodRole;
  /** PD group, or null. */
  readonly group: string | null;
  /** Stable for the pod's life: its name plus a process-unique suffix. */
  readonly kvEngineId: string;
  /** Bound port (the real one after listen(), also when the spec asked for 0). */
  port: number;
  /** The scheduler, KV cache, LoRA slots and statistics of this pod. */
  readonly engine: Engine;
  /** Pending fault rules (POST /sim/faults). */
  readonly faults = new FaultInjector();
  /** KV-event publisher (spec.kvEvents), bound by listen(); null when off. */
  readonly kvEvents: KvEventsPublisher | null;
  private readonly server: PodServer;
  /** Checks /v1 requests when the pod has API keys; null when it is open. */
  private readonly apiKeys: ApiKeyGuard | null;
  private readonly scheme: 'http' | 'https';
  private readonly createdSec = Math.floor(Date.now() / 1000);
  private readonly ctx: InferenceContext;

  /** Build the pod; call listen() to bind it. */
  constructor(
    spec: SimPodSpec,
    readonly profile: EngineProfile,
    readonly timeScale: number,
    /** Real tokenizer (--tokenizer), or null for the stand-in. */
    readonly tokenizer: HfTokenizer | null = null,
  ) {
    this.name = spec.name;
    this.namespace = spec.namespace ?? 'default';
    this.ip = spec.ip;
    this.port = spec.port;
    this.model = spec.model;
    this.flavour = spec.engine ?? 'vllm';
    this.role = spec.role ?? 'both';
    this.group = spec.group ?? null;
    this.kvEngineId = `${this.name}-${PROCESS_TAG}-${++engineSeq}`;
    this.engine = new Engine({
      pod: this.name, namespace: this.namespace, role: this.role, group: this.group, flavour: this.flavour,
      modelName: this.model, loras: spec.loras ?? [], profile, timeScale,
    });
    this.ctx = { podName: this.name, baseModel: this.model, engine: this.engine, faults: this.faults, pd: this, tokenizer };
    this.kvEvents = spec.kvEvents ? new KvEventsPublisher(spec.ip, spec.kvEvents, profile.blockSize) : null;
    if (this.kvEvents) this.engine.attachKvEvents(this.kvEvents);
    const keys = apiKeysOf(spec.apiKey);
    this.apiKeys = keys.length ? new ApiKeyGuard(keys) : null;
    this.scheme = hasTls(spec) ? 'https' : 'http';
    this.server = createPodServer(spec, `pod ${this.name}`, (req, res) => void this.handle(req, res));
  }

  /** Base URL, e.g. http://127.0.0.2:8000 (https:// when the pod has TLS files). */
  get url(): string {
    return `${this.scheme}://${this.ip}:${this.port}`;
  }

  /** Identity as printed by the CLI. */
  info(): SimPodInfo {
    return {
      name: this.name, namespace: this.namespace, ip: this.ip, port: this.port, url: this.url, model: this.model,
      engine: this.flavour, role: this.role, ...(this.group !== null ? { group: this.group } : {}),
      kvEngineId: this.kvEngineId, loras: this.engine.lora.list().map((l) => l.name),
      ...(this.kvEvents ? { kvEvents: { address: this.kvEvents.address, replayAddress: this.kvEvents.replayAddress, topic: this.kvEvents.topic } } : {}),
    };
  }

  /** Bind ip:port; rejects on EADDRINUSE and the like. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.port, this.ip, () => {
        this.server.off('error', onError);
        this.port = (this.server.address() as AddressInfo).port;
        PD_REGISTRY.add(this);
        if (!this.kvEvents) return resolve();
        this.kvEvents.bind().then(resolve, reject);
      });
    });
  }

  /** Stop the engine and close the server, dropping open connections. */
  close(): Promise<void> {
    PD_REGISTRY.remove(this);
    this.engine.stop();
    const kv = this.kvEvents?.close();
    return new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    }).then(() => kv);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Set up front so every answer, errors included, says which pod produced it.
    res.setHeader('x-sim-pod', this.name);
    res.setHeader('x-sim-model', this.model);
    // Fires when the client goes away (or the response ends): cancels holds and frees engine slots.
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    try {
      const path = new URL(req.url ?? '/', 'http://sim').pathname;
      const methods = ROUTES[path];
      // Always drain the body first so keep-alive connections stay usable after errors.
      const body = await readBody(req);
      // Before routing, as vLLM's middleware: an unknown /v1 path without a key is 401, not 404.
      if (this.apiKeys && !this.apiKeys.allows(req.method, path, req.headers.authorization)) return sendJson(res, 401, UNAUTHORIZED_BODY);
      if (!methods) return sendJson(res, 404, { detail: 'Not Found' });
      if (!methods.includes(req.method ?? '')) return sendJson(res, 405, { detail: 'Method Not Allowed' });
      await this.route(`${req.method} ${path}`, req, res, body, closed.signal);
    } catch (e) {
      sendError(res, e);
    }
  }

  private async route(
    key: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    closed: AbortSignal,
  ): Promise<void> {
    switch (key) {
      case 'POST /v1/completions':
        return handleInference(this.ctx, 'completion', req, res, body, closed);
      case 'POST /v1/chat/completions':
        return handleInference(this.ctx, 'chat', req, res, body, closed);
      case 'POST /v1/embeddings':
        return handleEmbeddings(res, this.model, body);
      case 'GET /v1/models':
        return sendJson(res, 200, this.models());
      case 'POST /v1/load_lora_adapter':
        return this.loadLora(res, parseJson(body), closed);
      case 'POST /v1/unload_lora_adapter':
        return this.unloadLora(res, parseJson(body));
      case 'GET /health':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      case 'GET /metrics':
        return sendText(res, 200, renderMetrics(this.engine.stats, this.engine.snapshot()), 'text/plain; version=0.0.4; charset=utf-8');
      case 'POST /tokenize':
        return handleTokenize(res, {
          baseModel: this.model, maxModelLen: this.profile.maxModelLen, tokenizer: this.tokenizer,
          isKnownModel: (m) => m === this.model || this.engine.lora.isRegistered(m),
        }, body);
      case 'POST /reset_prefix_cache':
        this.engine.kv.resetPrefixCache();
        return sendText(res, 200, '');
      case 'GET /sim/state':
        return sendJson(res, 200, this.state());
      case 'GET /sim/faults':
        return sendJson(res, 200, { faults: this.faults.list(), held: this.faults.held });
      case 'POST /sim/faults':
        this.faults.add(parseFaultRule(parseJson(body)));
        return sendJson(res, 200, { faults: this.faults.list(), held: this.faults.held });
      case 'DELETE /sim/faults':
        return sendJson(res, 200, { cleared: this.faults.clear() });
    }
  }

  /** GET /v1/models: base model plus registered adapters, in vLLM's ModelList shape. */
  private models(): object {
    const ownedBy = this.flavour;
    const permission = (): object => ({
      id: `modelperm-${randomUUID().replace(/-/g, '')}`, object: 'model_permission', created: this.createdSec,
      allow_create_engine: false, allow_sampling: true, allow_logprobs: true, allow_search_indices: false,
      allow_view: true, allow_fine_tuning: false, organization: '*', group: null, is_blocking: false,
    });
    const card = (id: string, root: string, parent: string | null, maxLen: number | null): object => ({
      id, object: 'model', created: this.createdSec, owned_by: ownedBy, root, parent, max_model_len: maxLen,
      permission: [permission()],
    });
    return {
      object: 'list',
      data: [
        card(this.model, this.model, null, this.profile.maxModelLen),
        ...this.engine.lora.list().map((l) => card(l.name, l.path, this.model, null)),
      ],
    };
  }

  /** POST /v1/load_lora_adapter: register, take a GPU slot if one can be had, answer after loraLoadMs. */
  private async loadLora(res: http.ServerResponse, body: unknown, closed: AbortSignal): Promise<void> {
    const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const name = o.lora_name;
    const path = o.lora_path;
    if (typeof name !== 'string' || !name || typeof path !== 'string' || !path) {
      throw new ApiError(400, 'InvalidUserInput', "Both 'lora_name' and 'lora_path' must be provided.");
    }
    if (name === this.model || !this.engine.lora.register(name, path)) {
      throw new ApiError(400, 'InvalidUserInput', `The lora adapter '${name}' has already been loaded.`);
    }
    // Take a GPU slot now (evicting an idle adapter if needed); if every slot
    // is pinned it stays registered and loads on first use instead.
    this.engine.lora.warm(name);
    if (!(await delay(this.profile.loraLoadMs / this.timeScale, closed))) return;
    sendText(res, 200, `Success: LoRA adapter '${name}' added successfully.`);
  }

  /** POST /v1/unload_lora_adapter (404 when unknown, as vLLM). */
  private unloadLora(res: http.ServerResponse, body: unknown): void {
    const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const name = o.lora_name;
    if (typeof name !== 'string' || !name) {
      throw new ApiError(400, 'InvalidUserInput', "either 'lora_name' and 'lora_int_id' needs to be provided.");
    }
    if (!this.engine.lora.unregister(name)) {
      throw new ApiError(404, 'NotFoundError', `The lora adapter '${name}' cannot be found.`);
    }
    sendText(res, 200, `Success: LoRA adapter '${name}' removed successfully.`);
  }

  /**
   * How well simulated time kept to wall time x timeScale: steps begun, how late they started
   * (wall ms; a late step is caught up by the next one) and how often the clock gave up and
   * re-anchored, losing `lostWallMs` (then the time scale did not hold).
   */
  private clockState(): object {
    const c = this.engine.clock;
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      steps: c.steps, resyncs: c.resyncs, lostWallMs: round(c.lostWallMs),
      maxLagWallMs: round(c.maxObservedLagWallMs), meanLagWallMs: round(c.steps ? c.totalLagWallMs / c.steps : 0),
    };
  }

  /** GET /sim/state body. */
  state(): object {
    const snap = this.engine.snapshot();
    return {
      pod: this.info(),
      timeScale: this.timeScale,
      simTimeMs: this.engine.clock.now(),
      clock: this.clockState(),
      profile: this.profile,
      running: snap.running,
      waiting: snap.waiting,
      maxNumSeqs: snap.maxNumSeqs,
      kv: snap.kv,
      loras: snap.loras,
      counters: { ...this.engine.stats.counters, loraLoads: snap.loras.loads, kvEvictions: snap.kv.evictions },
      pd: this.engine.stats.pd.toJSON(),
      faults: { pending: this.faults.list(), held: this.faults.held },
    };
  }
}
