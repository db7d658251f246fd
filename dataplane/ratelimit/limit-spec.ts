/**
 * What a ModelRoute's `rateLimit` means for one request: which budget (bucket pair) it draws from
 * and how large that budget is. Built per request from the route's settings and the caller's
 * identity; the rate limiter never sees the ModelRoute itself.
 *
 * A budget key is `<routeKey>|<scope>` where the scope is `route`, `user:<id>` or `tier:<name>`
 * (`tier:none` for requests without a tier). The same key names the local bucket and, inside the
 * Redis hash tag, the global one (see redis-script.ts).
 */

/** Length of each `rateLimit.unit` in ms; a month is 30 days, as in Kthena. */
export const UNIT_MS = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  month: 30 * 86_400_000,
} as const satisfies Record<string, number>;

/** A `rateLimit.unit` value. */
export type RateLimitUnit = keyof typeof UNIT_MS;

/** Who shares a budget: the whole route, each user, or each tier. */
export type LimitScope = 'route' | 'user' | 'tier';

/** The two limits of one budget. A null limit is not enforced (no bucket). */
export interface LimitSpec {
  /** Bucket capacity for prompt tokens, refilled at inputPerUnit / unitMs per ms; null = no limit. */
  inputPerUnit: number | null;
  /** Bucket capacity for generated tokens; null = no limit. */
  outputPerUnit: number | null;
  /** The unit in ms (`UNIT_MS[unit]`). */
  unitMs: number;
}

/** Where a global budget lives and what to do when that Redis cannot be reached. */
export interface GlobalStore {
  /** Redis `host:port` (`[v6addr]:port` for IPv6). */
  address: string;
  /** `open`: decide with a local bucket while Redis is down; `closed`: refuse with 503. */
  failureMode: 'open' | 'closed';
}

/** One bucket pair a request is checked against and charged to. */
export interface Budget {
  /** `<routeKey>|<scope>`: unique per bucket pair; the Redis keys embed it. */
  key: string;
  /** The route key (`namespace/name`), for messages. */
  route: string;
  /** `route`, `user:<id>`, `tier:<name>` or `tier:none`, for messages. */
  scope: string;
  /** Sizes of the two buckets. */
  spec: LimitSpec;
  /** The shared store; null keeps the buckets in this replica's memory. */
  redis: GlobalStore | null;
}

/** Per-tier override of the two limits; an unset field keeps the route's value. */
export interface TierLimits {
  inputTokensPerUnit?: number;
  outputTokensPerUnit?: number;
}

/** A ModelRoute's `spec.rateLimit`, as the YAML spells it (Kthena's fields plus Sluice's). */
export interface RouteRateLimit {
  inputTokensPerUnit?: number;
  outputTokensPerUnit?: number;
  unit: RateLimitUnit;
  /** Default `route`. */
  per?: LimitScope;
  tiers?: Readonly<Record<string, TierLimits>>;
  global?: { redis?: { address: string }; failureMode?: 'open' | 'closed' };
}

/** The part of a request's identity that selects a budget. */
export interface BudgetIdentity {
  readonly user: string;
  readonly tier: string | null;
}

/** The scope part of a budget key: `route`, `user:<id>`, `tier:<name>` or `tier:none`. */
export function budgetScope(per: LimitScope, identity: BudgetIdentity): string {
  if (per === 'user') return `user:${identity.user}`;
  if (per === 'tier') return `tier:${identity.tier ?? 'none'}`;
  return 'route';
}

/** The budget key `<routeKey>|<scope>` for a request of `identity` on a route limited `per`. */
export function budgetKey(routeKey: string, per: LimitScope, identity: BudgetIdentity): string {
  return `${routeKey}|${budgetScope(per, identity)}`;
}

/**
 * The limits that apply to a request of `tier`: the route's, with the tier's fields replacing
 * them one by one. A null tier, or one without an entry, gets the route's limits.
 */
export function limitsFor(rateLimit: RouteRateLimit, tier: string | null): LimitSpec {
  // Own-property check so a tier called `constructor` or `__proto__` finds nothing inherited.
  const override = tier !== null && rateLimit.tiers && Object.hasOwn(rateLimit.tiers, tier) ? rateLimit.tiers[tier] : undefined;
  return {
    inputPerUnit: override?.inputTokensPerUnit ?? rateLimit.inputTokensPerUnit ?? null,
    outputPerUnit: override?.outputTokensPerUnit ?? rateLimit.outputTokensPerUnit ?? null,
    unitMs: UNIT_MS[rateLimit.unit],
  };
}

/**
 * The budget a request of `identity` draws from on route `routeKey`. With `per: route` the tier
 * is ignored: one bucket pair cannot have two sizes, so tier overrides need `per: user` or `tier`.
 */
export function budgetFor(routeKey: string, rateLimit: RouteRateLimit, identity: BudgetIdentity): Budget {
  const per = rateLimit.per ?? 'route';
  const scope = budgetScope(per, identity);
  const address = rateLimit.global?.redis?.address;
  return {
    key: `${routeKey}|${scope}`,
    route: routeKey,
    scope,
    spec: limitsFor(rateLimit, per === 'route' ? null : identity.tier),
    redis: address ? { address, failureMode: rateLimit.global?.failureMode ?? 'open' } : null,
  };
}

/** The unit's name when `unitMs` is one of UNIT_MS (for messages), else `<n>ms`. */
export function unitName(unitMs: number): string {
  for (const [name, ms] of Object.entries(UNIT_MS)) if (ms === unitMs) return name;
  return `${unitMs}ms`;
}
