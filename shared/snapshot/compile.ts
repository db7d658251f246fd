/**
 * compileSnapshot: the pure function from API objects to a RoutingSnapshot plus a status for every
 * object. No I/O, no clock: the caller passes the version and time. The same objects always give
 * the same routes, servers and hash.
 */
import type { ConfigMap, Pod, Secret } from '../api/core-types';
import type { ExternalModelProvider } from '../api/external-provider';
import { isPodReady } from '../api/core-types';
import type { ModelRoute } from '../api/model-route';
import type { ModelServer } from '../api/model-server';
import type { InferencePool } from '../api/inference-pool';
import type { SchedulerConfig } from '../config/scheduler-config';
import type { RouterPolicy } from '../config/router-policy-parse';
import { parseDuration } from '../util/duration';

/** ModelServer annotation: a total deadline for each request, streams included (Sluice only). */
export const REQUEST_DEADLINE_ANNOTATION = 'sluice.dev/request-deadline';
import type { Issue } from '../api/validate';
import { describeQueue, parseQueueAnnotations } from '../config/queue-annotations';
import { parseLoraAnnotations } from '../config/lora-annotations';
import { compileKvEvents } from './compile-kv-events';
import { resolveSchedulers, type SchedulerIssue } from './compile-scheduler';
import { compilePool } from './compile-pool';
import { compileProvider, type ProviderCredential } from './compile-provider';
import { statusKey, type CompiledCondition, type CompiledStatus } from './conditions';
import { snapshotContentHash } from './hash';
import { SNAPSHOT_API_VERSION, type RoutingSnapshot, type SnapshotEndpoint, type SnapshotProvider, type SnapshotRateLimit, type SnapshotRoute, type SnapshotServer } from './schema';

/** The validated objects to compile. */
export interface ObjectSet {
  routes: readonly ModelRoute[];
  servers: readonly ModelServer[];
  pods: readonly Pod[];
  configMaps?: readonly ConfigMap[];
  inferencePools?: readonly InferencePool[];
  externalProviders?: readonly ExternalModelProvider[];
  /** Secrets; only those an ExternalModelProvider's auth names are read. */
  secrets?: readonly Secret[];
  /** Why a named Secret (`namespace/name`) could not be read (no permission), for the provider's status. */
  secretProblems?: ReadonlyMap<string, string>;
}

/** What the caller decides: the version to stamp, the time, and what it remembers. */
export interface CompileConfig {
  version: number;
  generatedAt: string;
  /**
   * The only namespace whose `sluice-router-config` / `kthena-router-config` configures the whole
   * router (auth included); the operator's own namespace in a cluster.
   */
  routerConfigNamespace: string;
  /** Last valid scheduler configurations by key, kept when a ConfigMap turns invalid. */
  lastGoodSchedulers?: Readonly<Record<string, SchedulerConfig>>;
  /** Last valid router policy (auth, identity, fairness), kept when the router ConfigMap turns invalid. */
  lastGoodPolicy?: RouterPolicy;
}

/** The snapshot, the status of every route and server, and configuration problems. */
export interface CompileResult {
  snapshot: RoutingSnapshot;
  statuses: Map<string, CompiledStatus>;
  schedulerIssues: SchedulerIssue[];
  /**
   * The provider credentials the snapshot names, by version: delivered to the data planes apart
   * from the snapshot, never stored with it.
   */
  credentials: ProviderCredential[];
}

/**
 * Retries after a 5xx (or a connection broken before the answer) when trafficPolicy.retry.attempts
 * is unset: one, on another endpoint. Set `attempts: 0` to pass the first failure through.
 */
export const DEFAULT_RETRY_ATTEMPTS = 1;

/** Port used when a ModelServer has no workloadPort: vLLM's default. */
export const DEFAULT_ENGINE_PORT = 8000;

const ns = (o: { metadata: { namespace?: string } }) => o.metadata.namespace ?? 'default';
const keyOf = (o: { metadata: { namespace?: string; name: string } }) => `${ns(o)}/${o.metadata.name}`;
const labelsMatch = (labels: Record<string, string>, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => labels[k] === v);
const fmtLabels = (l: Record<string, string>) => formatLabels(l);

/** Oldest first; ties broken by namespace/name so the order never depends on input order. */
function byAge(a: ModelRoute, b: ModelRoute): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
}

/**
 * Pods indexed by namespace and by `namespace/label=value`, built once per compile so selecting
 * a ModelServer's pods costs the size of its smallest label bucket, not the whole fleet.
 */
export class PodIndex {
  private readonly byNs = new Map<string, Pod[]>();
  private readonly byLabel = new Map<string, Pod[]>();

  constructor(pods: readonly Pod[]) {
    for (const p of pods) {
      const namespace = ns(p);
      push(this.byNs, namespace, p);
      for (const [k, v] of Object.entries(p.metadata.labels ?? {})) push(this.byLabel, `${namespace}\u0000${k}=${v}`, p);
    }
  }

  /** Pods in `namespace` carrying every label of `match`, and those of them that can take traffic. */
  select(namespace: string, match: Record<string, string>): { selected: Pod[]; ready: Pod[] } {
    let candidates = this.byNs.get(namespace) ?? [];
    for (const [k, v] of Object.entries(match)) {
      const bucket = this.byLabel.get(`${namespace}\u0000${k}=${v}`) ?? [];
      if (bucket.length < candidates.length) candidates = bucket;
    }
    const selected = candidates.filter((p) => labelsMatch(p.metadata.labels ?? {}, match));
    return { selected, ready: selected.filter(isPodReady) };
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** `{k: v, ...}` for messages. */
export const formatLabels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;

function compileServer(server: ModelServer, pods: PodIndex, scheduler: string): { compiled: SnapshotServer; status: CompiledStatus } {
  const spec = server.spec;
  const namespace = ns(server);
  const match = spec.workloadSelector.matchLabels ?? {};
  const { selected, ready } = pods.select(namespace, match);
  const port = spec.workloadPort?.port ?? DEFAULT_ENGINE_PORT;
  const pd = spec.workloadSelector.pdGroup;
  const endpoints: SnapshotEndpoint[] = [];
  const notes: string[] = [];
  const groups = new Map<string, { prefill: number; decode: number }>();
  for (const pod of ready) {
    const ep: SnapshotEndpoint = { pod: keyOf(pod), address: pod.status!.podIP!, port };
    if (pd) {
      const labels = pod.metadata.labels ?? {};
      const group = labels[pd.groupKey];
      const role = labelsMatch(labels, pd.prefillLabels) ? 'prefill' : labelsMatch(labels, pd.decodeLabels) ? 'decode' : undefined;
      if (group === undefined || role === undefined) {
        notes.push(`pod ${pod.metadata.name} is ignored: it lacks ${group === undefined ? `label ${pd.groupKey}` : `prefill labels ${fmtLabels(pd.prefillLabels)} or decode labels ${fmtLabels(pd.decodeLabels)}`}`);
        continue;
      }
      ep.role = role;
      ep.group = group;
      const g = groups.get(group) ?? { prefill: 0, decode: 0 };
      g[role] += 1;
      groups.set(group, g);
    }
    endpoints.push(ep);
  }
  endpoints.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));

  const compiled: SnapshotServer = {
    key: keyOf(server),
    engine: spec.inferenceEngine,
    protocol: spec.workloadPort?.protocol ?? 'http',
    retry: {
      attempts: spec.trafficPolicy?.retry?.attempts ?? DEFAULT_RETRY_ATTEMPTS,
      intervalMs: parseDuration(spec.trafficPolicy?.retry?.retryInterval ?? '100ms') ?? 100,
    },
    pd: pd !== undefined,
    scheduler,
    endpoints,
  };
  if (spec.model !== undefined) compiled.model = spec.model;
  const timeout = spec.trafficPolicy?.timeout;
  if (timeout !== undefined) compiled.timeoutMs = parseDuration(timeout) ?? undefined;
  // Sluice: an optional cap on the whole exchange, streams included (docs/traffic-policy.md#deadlines).
  const rawDeadline = server.metadata.annotations?.[REQUEST_DEADLINE_ANNOTATION];
  const deadlineMs = rawDeadline === undefined ? undefined : parseDuration(rawDeadline.trim());
  let deadlineCond: CompiledCondition | null = null;
  if (rawDeadline !== undefined && (deadlineMs === null || deadlineMs === undefined || deadlineMs <= 0)) {
    deadlineCond = { type: 'DeadlineConfigured', status: 'False', reason: 'InvalidAnnotation', message: `metadata.annotations["${REQUEST_DEADLINE_ANNOTATION}"]: must be a positive duration such as 10m or 90s (got ${JSON.stringify(rawDeadline)}); requests have no total deadline until this is fixed` };
  } else if (deadlineMs) {
    compiled.deadlineMs = deadlineMs;
  }
  if (spec.kvConnector?.type !== undefined) compiled.kvConnector = spec.kvConnector.type;
  const loraIssues: Issue[] = [];
  const loraLoad = parseLoraAnnotations(server.metadata.annotations ?? {}, loraIssues);
  if (loraLoad && loraIssues.length === 0) compiled.loraLoad = loraLoad;
  const queueIssues: Issue[] = [];
  const queue = parseQueueAnnotations(server.metadata.annotations ?? {}, queueIssues);
  let queueCond: CompiledCondition | null = null;
  if (queueIssues.length > 0) {
    queueCond = { type: 'QueueConfigured', status: 'False', reason: 'InvalidAnnotations', message: `${queueIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}. Requests are not queued until this is fixed` };
  } else if (queue) {
    compiled.queue = queue;
    queueCond = { type: 'QueueConfigured', status: 'True', reason: 'Configured', message: describeQueue(queue) };
  }

  const gen = server.metadata.generation;
  let ready_: CompiledCondition;
  const selector = Object.keys(match).length ? `matchLabels ${fmtLabels(match)}` : 'an empty matchLabels (every pod in the namespace)';
  if (selected.length === 0) {
    ready_ = { type: 'Ready', status: 'False', reason: 'NoPodsSelected', message: `workloadSelector ${selector} selects no pod in namespace ${namespace}; check the pod labels or the selector` };
  } else if (endpoints.length === 0) {
    const why = ready.length === 0 ? 'none is Running and Ready' : notes.join('; ');
    ready_ = { type: 'Ready', status: 'False', reason: 'NoReadyEndpoints', message: `0/${selected.length} selected pods can take traffic: ${why}` };
  } else if (pd) {
    const complete = [...groups].filter(([, g]) => g.prefill > 0 && g.decode > 0).map(([k]) => k).sort();
    const incomplete = [...groups].filter(([, g]) => !(g.prefill > 0 && g.decode > 0)).map(([k, g]) => `${k} (${g.prefill} prefill, ${g.decode} decode)`).sort();
    const text = `${endpoints.length}/${selected.length} selected pods ready; PD groups complete: ${complete.join(', ') || 'none'}${incomplete.length ? `; incomplete: ${incomplete.join(', ')}` : ''}${notes.length ? `; ${notes.join('; ')}` : ''}`;
    ready_ = complete.length > 0
      ? { type: 'Ready', status: 'True', reason: 'EndpointsReady', message: text }
      : { type: 'Ready', status: 'False', reason: 'NoCompletePDGroup', message: `${text}; a PD group needs at least one prefill and one decode pod with the same ${pd.groupKey} label` };
  } else {
    ready_ = { type: 'Ready', status: 'True', reason: 'EndpointsReady', message: `${endpoints.length}/${selected.length} selected pods ready` };
  }
  const conditions = queueCond ? [ready_, queueCond] : [ready_];
  if (deadlineCond) conditions.push(deadlineCond);
  if (loraIssues.length > 0) {
    conditions.push({ type: 'AdaptersConfigured', status: 'False', reason: 'InvalidAnnotations', message: `${loraIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}. Adapters are not loaded by Sluice until this is fixed` });
  } else if (loraLoad) {
    conditions.push({ type: 'AdaptersConfigured', status: 'True', reason: 'LoadOnDemand', message: `missing LoRA adapters are loaded on the chosen pod from ${loraLoad.pathTemplate}` });
  }
  for (const c of conditions) if (gen !== undefined) c.observedGeneration = gen;
  return { compiled, status: { conditions, readyEndpoints: endpoints.length, totalEndpoints: selected.length } };
}

/** The snapshot form of a route's rate limit: defaults applied, Redis settings gathered. */
function compileRateLimit(rl: NonNullable<ModelRoute['spec']['rateLimit']>): SnapshotRateLimit {
  const out: SnapshotRateLimit = { unit: rl.unit, per: rl.per ?? 'route', tiers: {} };
  if (rl.inputTokensPerUnit !== undefined) out.inputTokensPerUnit = rl.inputTokensPerUnit;
  if (rl.outputTokensPerUnit !== undefined) out.outputTokensPerUnit = rl.outputTokensPerUnit;
  for (const [tier, limits] of Object.entries(rl.tiers ?? {})) out.tiers[tier] = { ...limits };
  if (rl.global?.redis?.address) out.redis = { address: rl.global.redis.address, failureMode: rl.global.failureMode ?? 'open' };
  return out;
}

function compileRoute(route: ModelRoute, servers: Map<string, SnapshotServer>, providers: Map<string, SnapshotProvider>, older: Map<string, string>): { compiled: SnapshotRoute; status: CompiledStatus } {
  const spec = route.spec;
  const namespace = ns(route);
  const missing: string[] = [];
  const empty = new Set<string>();
  const unusable = new Set<string>();
  const rules = spec.rules.map((rule, i) => {
    const targets = rule.targetModels.map((t, j): SnapshotRoute['rules'][number]['targets'][number] => {
      const weight = t.weight ?? 100;
      if (t.externalModelProviderName) {
        const key = `${namespace}/${t.externalModelProviderName}`;
        const provider = providers.get(key);
        if (!provider) missing.push(`rules[${i}].targetModels[${j}]: ExternalModelProvider ${t.externalModelProviderName} not found in namespace ${namespace}; create it or fix externalModelProviderName`);
        else if (provider.unavailable) unusable.add(t.externalModelProviderName);
        return { server: key, external: true, weight, resolved: provider !== undefined };
      }
      const key = `${namespace}/${t.modelServerName}`;
      const server = servers.get(key);
      if (!server) missing.push(`rules[${i}].targetModels[${j}]: ModelServer ${t.modelServerName} not found in namespace ${namespace} (nor an InferencePool of that name); create it or fix modelServerName`);
      else if (server.endpoints.length === 0) empty.add(t.modelServerName!);
      return { server: key, weight, resolved: server !== undefined };
    });
    const headers = Object.entries(rule.modelMatch?.headers ?? {})
      .map(([name, match]) => ({ name: name.toLowerCase(), match: { ...match } }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const out: SnapshotRoute['rules'][number] = { name: rule.name ?? `rule-${i}`, headers, targets };
    if (rule.modelMatch?.uri) out.uri = { ...rule.modelMatch.uri };
    if (rule.modelMatch?.body?.model !== undefined) out.bodyModel = rule.modelMatch.body.model;
    return out;
  });
  const compiled: SnapshotRoute = { key: keyOf(route), loraAdapters: [...(spec.loraAdapters ?? [])], rules };
  if (spec.modelName) compiled.modelName = spec.modelName;
  if (spec.rateLimit) compiled.rateLimit = compileRateLimit(spec.rateLimit);

  const names = [spec.modelName ? `model ${spec.modelName}` : '', compiled.loraAdapters.length ? `LoRA adapters ${compiled.loraAdapters.join(', ')}` : ''].filter(Boolean).join(' and ');
  const shadow = [spec.modelName, ...compiled.loraAdapters].filter((n): n is string => !!n && older.has(n))
    .map((n) => `${n} is also served by older route ${older.get(n)}, whose rules are tried first`);
  const gen = route.metadata.generation;
  const accepted: CompiledCondition = { type: 'Accepted', status: 'True', reason: 'Accepted', message: `serves ${names}${shadow.length ? `; ${shadow.join('; ')}` : ''}` };
  const resolved: CompiledCondition = missing.length
    ? { type: 'ResolvedRefs', status: 'False', reason: missing.every((m) => m.includes('ExternalModelProvider')) ? 'ExternalModelProviderNotFound' : 'ModelServerNotFound', message: `${missing.join('; ')}. Requests sent to a missing target get 500 SLUICE_TARGET_UNRESOLVED` }
    : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: `all ${rules.reduce((n, r) => n + r.targets.length, 0)} targets found${empty.size ? `; ModelServer ${[...empty].sort().join(', ')} has no ready endpoints yet (see its Ready condition)` : ''}${unusable.size ? `; ExternalModelProvider ${[...unusable].sort().join(', ')} has no usable credential yet (see its Ready condition)` : ''}` };
  for (const c of [accepted, resolved]) if (gen !== undefined) c.observedGeneration = gen;
  return { compiled, status: { conditions: [accepted, resolved] } };
}

/** `c` with `observedGeneration` set when the object has a generation. */
function withGeneration(c: CompiledCondition, generation: number | undefined): CompiledCondition {
  return generation === undefined ? c : { ...c, observedGeneration: generation };
}

/** Compiles validated objects into a snapshot and a status for every ModelRoute and ModelServer. */
export function compileSnapshot(objects: ObjectSet, config: CompileConfig): CompileResult {
  const statuses = new Map<string, CompiledStatus>();
  const servers = new Map<string, SnapshotServer>();
  const sortedServers = [...objects.servers].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  const sched = resolveSchedulers(sortedServers, objects.configMaps ?? [], config.lastGoodSchedulers ?? {}, config.routerConfigNamespace, config.lastGoodPolicy);
  const podIndex = new PodIndex(objects.pods);
  for (const s of sortedServers) {
    const { compiled, status } = compileServer(s, podIndex, sched.byServer.get(keyOf(s))!);
    status.conditions.push(sched.conditions.get(keyOf(s))!);
    const kv = compileKvEvents(compiled, s.metadata.annotations ?? {}, sched.configs[compiled.scheduler]);
    if (kv) status.conditions.push(withGeneration(kv, s.metadata.generation));
    servers.set(compiled.key, compiled);
    statuses.set(statusKey('ModelServer', ns(s), s.metadata.name), status);
  }
  const schedulerConfigs = { ...sched.configs };
  const schedulerIssues = [...sched.issues];
  for (const pool of [...(objects.inferencePools ?? [])].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1))) {
    const c = compilePool(pool, podIndex, config.lastGoodSchedulers ?? {});
    const key = statusKey('InferencePool', ns(pool), pool.metadata.name);
    if (servers.has(c.compiled.key)) {
      statuses.set(key, { conditions: [{ type: 'Accepted', status: 'False', reason: 'NameTaken', message: `a ModelServer named ${pool.metadata.name} exists in namespace ${ns(pool)}; routes target it, not this pool. Rename one of them` }] });
      continue;
    }
    servers.set(c.compiled.key, c.compiled);
    schedulerConfigs[c.compiled.scheduler] = c.config;
    const kv = compileKvEvents(c.compiled, pool.metadata.annotations ?? {}, c.config);
    if (kv) c.status.conditions.push(withGeneration(kv, pool.metadata.generation));
    schedulerIssues.push(...c.issues);
    statuses.set(key, c.status);
  }
  const providers = new Map<string, SnapshotProvider>();
  const credentials = new Map<string, ProviderCredential>();
  const secrets = new Map((objects.secrets ?? []).map((sec) => [keyOf(sec), sec]));
  for (const p of [...(objects.externalProviders ?? [])].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1))) {
    const c = compileProvider(p, secrets, objects.secretProblems);
    providers.set(c.compiled.key, c.compiled);
    if (c.credential) credentials.set(c.credential.version, c.credential);
    statuses.set(statusKey('ExternalModelProvider', ns(p), p.metadata.name), c.status);
  }
  const routes: SnapshotRoute[] = [];
  const older = new Map<string, string>();
  for (const r of [...objects.routes].sort(byAge)) {
    const { compiled, status } = compileRoute(r, servers, providers, older);
    routes.push(compiled);
    statuses.set(statusKey('ModelRoute', ns(r), r.metadata.name), status);
    for (const n of [compiled.modelName, ...compiled.loraAdapters]) if (n && !older.has(n)) older.set(n, compiled.key);
  }
  const content = {
    routes,
    servers: [...servers.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    ...(providers.size ? { providers: [...providers.values()] } : {}),
    schedulers: schedulerConfigs,
    ...sched.policy,
  };
  const snapshot: RoutingSnapshot = {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'RoutingSnapshot',
    version: config.version,
    hash: snapshotContentHash(content),
    generatedAt: config.generatedAt,
    ...content,
  };
  return { snapshot, statuses, schedulerIssues, credentials: [...credentials.values()] };
}
