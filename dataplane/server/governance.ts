/**
 * Traffic governance on the request path, between parsing and scheduling: who the request is
 * (auth), whether its route's token budget admits it (rate limits), and whether it waits for
 * capacity (the per-ModelServer fairness queue). One Governance per data plane; it follows every
 * applied snapshot (auth settings, Redis addresses in use, queue bounds, fairness weights) and
 * keeps what must survive a snapshot swap: JWKS caches, API key files, Redis clients, queued
 * requests and users' recent usage.
 *
 * Order in the traffic server: authenticate → match route → pick target → `admitRate` →
 * `admitQueue` → schedule → forward → `settle`. A route that does not match spends no quota; a
 * request refused by the rate limit never queues.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { FAIRNESS_DEFAULTS, type Identity } from '../../shared/config/router-policy';
import type { SnapshotRateLimit } from '../../shared/snapshot/schema';
import type { Logger } from '../../shared/log/logger';
import { Authenticator, type AuthenticatorOptions } from '../auth/authenticator';
import { FairQueue, type QueueOutcome, type QueueRelease } from '../queue/fair-queue';
import { serverHasCapacity } from '../queue/capacity';
import { priorityOf } from '../queue/priority';
import { UsageWindow } from '../queue/usage-window';
import { budgetFor, type Budget, type RouteRateLimit } from '../ratelimit/limit-spec';
import { rateLimitHeaders } from '../ratelimit/headers';
import { RateLimiter, type LimitDecision } from '../ratelimit/rate-limiter';
import { refusalError } from '../ratelimit/refusal';
import type { RouteEntry, RoutingTable, ServerEntry } from '../routing/routing-table';
import type { SnapshotStore } from '../routing/snapshot-store';
import type { Usage } from '../proxy/usage-tap';
import type { DataplaneMetrics } from './metrics';

/** What a rate-limit check leaves for the rest of the request. */
export interface RateTicket {
  readonly budget: Budget;
  readonly estimate: number;
  /** `x-ratelimit-*` headers for the answer. */
  readonly headers: Record<string, string>;
}

/** Tokens a finished request used, as far as is known. */
export interface SpentTokens {
  /** Prompt tokens: the engine's count, the estimate when it gave none, 0 when nothing was served. */
  input: number;
  /** Generated tokens: the usage's count, else the stream events seen, else 0. */
  output: number;
}

/** Snapshot rate limit → the rate limiter's route form (the CRD's shape). */
function routeLimit(rl: SnapshotRateLimit): RouteRateLimit {
  const out: RouteRateLimit = { unit: rl.unit, per: rl.per, tiers: rl.tiers };
  if (rl.inputTokensPerUnit !== undefined) out.inputTokensPerUnit = rl.inputTokensPerUnit;
  if (rl.outputTokensPerUnit !== undefined) out.outputTokensPerUnit = rl.outputTokensPerUnit;
  if (rl.redis) out.global = { redis: { address: rl.redis.address }, failureMode: rl.redis.failureMode };
  return out;
}

/** Auth, rate limits and queues of one data plane. */
export class Governance {
  readonly auth: Authenticator;
  readonly limiter: RateLimiter;
  readonly usage: UsageWindow;
  private readonly queues = new Map<string, FairQueue>();
  private readonly limits = new WeakMap<RouteEntry, { limit: RouteRateLimit; shared: Budget | null }>();
  private readonly store: SnapshotStore;
  private readonly metrics: DataplaneMetrics;

  constructor(deps: { store: SnapshotStore; metrics: DataplaneMetrics; log: Logger; authOptions?: AuthenticatorOptions }) {
    this.store = deps.store;
    this.metrics = deps.metrics;
    this.auth = new Authenticator(undefined, undefined, deps.log, deps.authOptions);
    this.limiter = new RateLimiter({
      log: deps.log,
      onRedisState: (address, up) => deps.metrics.redisUp.labels(address).set(up ? 1 : 0),
      onChargeDropped: (address) => deps.metrics.rateLimitChargesDropped.labels(address).inc(),
    });
    this.usage = new UsageWindow(FAIRNESS_DEFAULTS);
    deps.store.onApply((table) => this.apply(table));
    const current = deps.store.current();
    if (current) this.apply(current);
  }

  /** Follows a newly applied snapshot. */
  private apply(table: RoutingTable): void {
    const snap = table.snapshot;
    this.auth.update(snap.auth, snap.identity);
    this.usage.configure(snap.fairness ?? FAIRNESS_DEFAULTS);
    const addresses = new Set<string>();
    for (const r of snap.routes) if (r.rateLimit?.redis) addresses.add(r.rateLimit.redis.address);
    void this.limiter.retain(addresses);
    for (const [key, server] of table.servers) {
      const config = server.spec.queue;
      const queue = this.queues.get(key);
      if (config && queue) queue.configure(config);
      else if (config) this.queues.set(key, this.newQueue(key, config));
    }
    for (const [key, queue] of this.queues) {
      if (table.servers.get(key)?.spec.queue) continue;
      // Queueing switched off, or the server left: hasCapacity now says yes, so one pump lets
      // everyone waiting through, to be scheduled (or answered) like any other request.
      this.queues.delete(key);
      queue.pump();
    }
  }

  private newQueue(key: string, config: NonNullable<ServerEntry['spec']['queue']>): FairQueue {
    const wait = this.metrics.queueWait.labels(key);
    const outcomes = new Map<QueueOutcome, { inc(): void }>();
    return new FairQueue({
      name: key,
      config,
      usage: this.usage,
      // The live endpoints of the server in the serving table: capacity follows snapshot swaps.
      hasCapacity: (pending) => {
        const server = this.store.current()?.servers.get(key);
        const q = server?.spec.queue;
        return !server || !q || serverHasCapacity(server.endpoints, q, pending);
      },
      observe: (outcome, waitMs) => {
        let c = outcomes.get(outcome);
        if (!c) outcomes.set(outcome, (c = this.metrics.queueOutcomes.labels(key, outcome)));
        c.inc();
        if (outcome === 'released') wait.observe(waitMs / 1000);
      },
    });
  }

  /** Queue stats by server, for the debug endpoint and the gauges. */
  queueStats(): Record<string, ReturnType<FairQueue['stats']>> {
    const out: Record<string, ReturnType<FairQueue['stats']>> = {};
    for (const [key, q] of this.queues) out[key] = q.stats();
    return out;
  }

  /** Who sent the request; throws or rejects with an auth SluiceError. */
  authenticate(headers: IncomingHttpHeaders): Identity | Promise<Identity> {
    return this.auth.authenticate(headers);
  }

  /**
   * Checks the route's token budget. Null when the route has no limit. Throws SLUICE_RATE_LIMITED
   * (with the headers attached by the caller from `headersOf`) or SLUICE_RATE_LIMIT_UNAVAILABLE.
   */
  admitRate(route: RouteEntry, identity: Identity, estimate: number): RateTicket | null | Promise<RateTicket | null> {
    const rl = route.spec.rateLimit;
    if (!rl) return null;
    let cached = this.limits.get(route);
    if (!cached) {
      const limit = routeLimit(rl);
      // A route-wide budget is the same for every request: built once per snapshot.
      cached = { limit, shared: rl.per === 'route' ? budgetFor(route.key, limit, identity) : null };
      this.limits.set(route, cached);
    }
    const budget = cached.shared ?? budgetFor(route.key, cached.limit, identity);
    const d = this.limiter.check(budget, estimate);
    return d instanceof Promise ? d.then((x) => this.ticket(route, budget, estimate, x)) : this.ticket(route, budget, estimate, d);
  }

  private ticket(route: RouteEntry, budget: Budget, estimate: number, d: LimitDecision): RateTicket {
    this.metrics.rateLimitDecision(route.key, d.allowed ? (d.degraded ? 'allowed_degraded' : 'allowed') : 'limited');
    const headers = rateLimitHeaders(d);
    if (!d.allowed) throw Object.assign(refusalError(budget, d, estimate), { headers });
    return { budget, estimate, headers };
  }

  /** The server's queue when it queues, else null. */
  queueOf(server: ServerEntry): FairQueue | null {
    return server.spec.queue ? this.queues.get(server.key) ?? null : null;
  }

  /**
   * Waits for capacity when the server queues: `true` when the request may go at once (count it
   * in flight before yielding), or a release to `claim()` once it is in flight.
   */
  admitQueue(queue: FairQueue, headers: IncomingHttpHeaders, identity: Identity, bytes: number, estimate: number, signal: AbortSignal): true | Promise<QueueRelease> {
    const fairness = this.store.current()?.snapshot.fairness ?? FAIRNESS_DEFAULTS;
    return queue.admit({ user: identity.user, priority: priorityOf(headers, identity, fairness), bytes, estimatedInputTokens: estimate, signal });
  }

  /**
   * Accounts a finished request: the rate limit gets the input correction and the output tokens
   * (overdrawing if need be), the user's recent usage the same, and the server's queue a chance
   * to release the next request. `queued` says whether the server's queue admitted it (and so
   * already charged the estimate to the user).
   */
  settle(identity: Identity, server: ServerEntry | null, rate: RateTicket | null, queued: boolean, estimate: number, spent: SpentTokens): void {
    if (rate) void this.limiter.charge(rate.budget, spent.input - rate.estimate, spent.output);
    if (queued) this.usage.settle(identity.user, estimate, spent.input, spent.output);
    else this.usage.add(identity.user, spent.input, spent.output);
    if (server) this.queues.get(server.key)?.pump();
  }

  /** True while some server queues: users' recent usage is then kept for every request. */
  get tracksUsage(): boolean {
    return this.queues.size > 0;
  }

  /** Gives every queue a chance to release (new engine metrics arrived). */
  pumpAll(): void {
    for (const q of this.queues.values()) q.pump();
  }

  /** Closes queues, Redis clients, key-file watchers. */
  async close(): Promise<void> {
    for (const q of this.queues.values()) q.close();
    this.queues.clear();
    this.auth.close();
    await this.limiter.close();
  }
}

/**
 * Tokens a request used: the engine's usage when it reported one; otherwise, for an answer that
 * was relayed, the estimate as input and the stream events seen as output; for one that never
 * reached the client, nothing (the estimate is refunded).
 */
export function spentFrom(usage: Usage | null, streamEvents: number, relayed: boolean, estimate: number): SpentTokens {
  if (usage) return { input: usage.promptTokens, output: usage.completionTokens };
  return { input: relayed ? estimate : 0, output: streamEvents };
}
