/**
 * The routing table: a RoutingSnapshot turned into what the request path needs, built once when
 * the snapshot is applied. Model and adapter names map straight to their routes, matchers are
 * compiled, weighted pickers hold their round-robin state, and servers hold their endpoints.
 * A request reads one table from start to end, so it never sees half of two snapshots.
 */
import type { RoutingSnapshot, SnapshotProvider, SnapshotRoute, SnapshotServer } from '../../shared/snapshot/schema';
import type { Endpoint, EndpointRegistry } from '../proxy/endpoint-registry';
import type { ProviderPools } from '../proxy/provider-pools';
import type { ForwardTarget } from '../proxy/forwarder';
import { Scheduler } from '../scheduler/scheduler';
import type { PluginEnv } from '../scheduler/types';
import type { RequestTokenizer } from '../tokenizer/request-tokenizer';
import { compileMatch, type Matcher } from './string-match';
import { WeightedPicker } from './weighted-picker';

/** A ModelServer ready for forwarding. */
export interface ServerEntry {
  readonly key: string;
  readonly spec: SnapshotServer;
  readonly endpoints: readonly Endpoint[];
  /** The scheduler for its configuration (shared by servers with the same configuration). */
  readonly scheduler: Scheduler;
  /** Tokenizes requests before scheduling; null unless the scheduler reads token ids. */
  readonly tokenizer: RequestTokenizer | null;
  /**
   * Prefill/decode disaggregation: the prefill endpoints, and every PD endpoint's group (the
   * `pdGroup.groupKey` label value); null for an aggregated server. `endpoints` then holds the
   * decode endpoints, which answer the client.
   */
  readonly pd: { readonly prefill: readonly Endpoint[]; readonly groupOf: ReadonlyMap<Endpoint, string> } | null;
}

/** An ExternalModelProvider ready for forwarding. */
export interface ProviderEntry {
  readonly key: string;
  readonly spec: SnapshotProvider;
  /** The connection pool to its origin. */
  readonly endpoint: Endpoint;
  /** The base URL's path without a trailing slash (`/v1`, `/v1beta/openai`, or empty). */
  readonly basePath: string;
  /** What `forward()` reads: no retries (a provider call is never repeated), no header deadline of its own. */
  readonly target: ForwardTarget;
}

/** Where a rule sends a request: a server, a provider, or the name of a missing one. */
export type Target =
  | { server: ServerEntry; provider?: undefined; missing?: undefined }
  | { server?: undefined; provider: ProviderEntry; missing?: undefined }
  | { server?: undefined; provider?: undefined; missing: string; external: boolean };

/** A compiled rule. */
export interface RuleEntry {
  readonly name: string;
  readonly headers: readonly { name: string; match: Matcher }[];
  readonly uri: Matcher | null;
  readonly bodyModel: string | undefined;
  readonly picker: WeightedPicker<Target>;
}

/** A compiled route. */
export interface RouteEntry {
  readonly key: string;
  readonly spec: SnapshotRoute;
  readonly rules: readonly RuleEntry[];
}

/** The view of a request that route matching reads. */
export interface MatchInput {
  readonly model: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The outcome of matching: the route, the rule and whether the model named a LoRA adapter. */
export interface RouteMatch {
  readonly route: RouteEntry;
  readonly rule: RuleEntry;
  readonly isLora: boolean;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Immutable routing state for one snapshot (the pickers' counters are the only moving part). */
export class RoutingTable {
  /** The snapshot this table was built from. */
  readonly snapshot: RoutingSnapshot;
  /** Servers by `namespace/name`. */
  readonly servers: ReadonlyMap<string, ServerEntry>;
  /** External providers by `namespace/name`. */
  readonly providers: ReadonlyMap<string, ProviderEntry>;
  /** `/v1/models` answer, serialised once. */
  readonly modelsBody: Buffer;
  private readonly byModel = new Map<string, RouteEntry[]>();
  private readonly byLora = new Map<string, RouteEntry[]>();

  /** Schedulers by configuration key. */
  readonly schedulers: ReadonlyMap<string, Scheduler>;

  /** Throws when a scheduler configuration cannot be built; nothing is changed then. */
  constructor(snapshot: RoutingSnapshot, registry: EndpointRegistry, env: PluginEnv, providerPools: ProviderPools | null = null) {
    this.snapshot = snapshot;
    // Build every scheduler first: a failure must leave the registry untouched.
    const schedulers = new Map<string, Scheduler>();
    for (const [key, config] of Object.entries(snapshot.schedulers)) {
      try {
        schedulers.set(key, new Scheduler(config, env));
      } catch (err) {
        throw new Error(`scheduler ${key}: ${(err as Error).message}`);
      }
    }
    this.schedulers = schedulers;
    const servers = new Map<string, ServerEntry>();
    const origins = new Set<string>();
    for (const s of snapshot.servers) {
      const toEndpoint = (e: SnapshotServer['endpoints'][number]): Endpoint => {
        const host = e.address.includes(':') ? `[${e.address}]` : e.address;
        const origin = `${s.protocol}://${host}:${e.port}`;
        origins.add(origin);
        return registry.acquire(e.pod, origin, s.engine, e.role ?? null);
      };
      const scheduler = schedulers.get(s.scheduler)!;
      const tokenizer = scheduler.needsTokens && env.tokenizer ? env.tokenizer(s.tokenizer ?? { kind: 'engine' }) : null;
      if (s.pd) {
        // Decode pods answer the client; prefill pods of the same group prepare the KV cache.
        const groupOf = new Map<Endpoint, string>();
        const decode: Endpoint[] = [];
        const prefill: Endpoint[] = [];
        for (const e of s.endpoints) {
          const ep = toEndpoint(e);
          if (e.group !== undefined) groupOf.set(ep, e.group);
          (e.role === 'prefill' ? prefill : decode).push(ep);
        }
        servers.set(s.key, { key: s.key, spec: s, endpoints: decode, scheduler, tokenizer, pd: { prefill, groupOf } });
      } else {
        servers.set(s.key, { key: s.key, spec: s, endpoints: s.endpoints.map(toEndpoint), scheduler, tokenizer, pd: null });
      }
    }
    registry.retain(origins);
    this.servers = servers;
    const providers = new Map<string, ProviderEntry>();
    if (providerPools) {
      for (const p of snapshot.providers ?? []) {
        const url = new URL(p.baseURL);
        const endpoint = providerPools.acquire(url.origin, p.insecureSkipVerify);
        providers.set(p.key, { key: p.key, spec: p, endpoint, basePath: url.pathname.replace(/\/+$/, ''), target: { key: p.key, kind: 'ExternalModelProvider', spec: { retry: { attempts: 0, intervalMs: 0 } } } });
      }
      providerPools.retain(new Set([...providers.values()].map((p) => p.endpoint)));
    }
    this.providers = providers;

    for (const r of snapshot.routes) {
      const entry: RouteEntry = {
        key: r.key,
        spec: r,
        rules: r.rules.map((rule) => ({
          name: rule.name,
          headers: rule.headers.map((h) => ({ name: h.name, match: compileMatch(h.match) })),
          uri: rule.uri ? compileMatch(rule.uri) : null,
          bodyModel: rule.bodyModel,
          picker: new WeightedPicker<Target>(rule.targets.map((t) => {
            if (t.external) {
              const provider = providers.get(t.server);
              return { item: provider ? { provider } : { missing: t.server, external: true }, weight: t.weight };
            }
            const server = servers.get(t.server);
            return { item: server ? { server } : { missing: t.server, external: false }, weight: t.weight };
          })),
        })),
      };
      // Snapshot routes are already oldest-first, so appending keeps precedence.
      if (r.modelName) push(this.byModel, r.modelName, entry);
      for (const lora of r.loraAdapters) push(this.byLora, lora, entry);
    }
    const created = Math.floor(Date.parse(snapshot.generatedAt) / 1000) || 0;
    const ids = [...new Set([...this.byModel.keys(), ...this.byLora.keys()])].sort();
    this.modelsBody = Buffer.from(JSON.stringify({
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'sluice', lora: this.byLora.has(id) && !this.byModel.has(id) })),
    }));
  }

  /** True when some route serves this name as a model or LoRA adapter. */
  servesName(name: string): boolean {
    return this.byModel.has(name) || this.byLora.has(name);
  }

  /**
   * Finds the route and rule for a request: routes for the model name first, then routes listing
   * it as a LoRA adapter; within them, oldest route first and the first rule whose modelMatch holds.
   */
  match(req: MatchInput): RouteMatch | null {
    const byModel = this.byModel.get(req.model);
    const candidates = byModel ?? this.byLora.get(req.model);
    if (!candidates) return null;
    const isLora = byModel === undefined;
    for (const route of candidates) {
      for (const rule of route.rules) {
        if (ruleAccepts(rule, req)) return { route, rule, isLora };
      }
    }
    return null;
  }
}

/**
 * True when a request satisfies a rule's modelMatch: the body model, the URI and every header.
 * Exported so the quickstart picks its printed requests by the same test the data plane applies.
 */
export function ruleAccepts(rule: Pick<RuleEntry, 'bodyModel' | 'uri' | 'headers'>, req: MatchInput): boolean {
  if (rule.bodyModel !== undefined && rule.bodyModel !== req.model) return false;
  if (rule.uri && !rule.uri(req.path)) return false;
  for (const h of rule.headers) {
    if (!h.match(headerValue(req.headers[h.name]))) return false;
  }
  return true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
