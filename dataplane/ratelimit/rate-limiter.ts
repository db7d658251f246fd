/**
 * Token rate limiting for the data plane: checks a request against its budget before it is
 * forwarded, and charges the real usage after the response.
 *
 * Budgets without `redis` live in this replica's memory (LocalBuckets) and are answered
 * synchronously: no Promise on the hot path. Global budgets run one atomic Lua script in Redis per
 * check and per charge (redis-script.ts). While a budget's Redis is unreachable:
 * - failureMode `open`: the same bucket arithmetic runs on a local bucket for that key, so one
 *   replica still admits at most the whole limit, and the decision is marked `degraded`;
 * - failureMode `closed`: `check` throws SluiceError SLUICE_RATE_LIMIT_UNAVAILABLE (503).
 * Charges that cannot reach Redis go to the local bucket (open) or are dropped and counted through
 * `onChargeDropped` (closed).
 *
 * Return types: `check` and `charge` return a Promise only when they talk to Redis; when the answer
 * is known without I/O (local budget, no limit, Redis known down) they return it directly, and the
 * 503 of a closed budget is then thrown synchronously. A plain refusal is never thrown: it is a
 * decision with `allowed: false`, which the caller turns into a 429 (see refusal.ts, headers.ts).
 * A request that can never fit (estimate > input capacity) is also a decision, with `neverFits`.
 */
import type { Logger } from '../../shared/log/logger';
import { SluiceError } from '../../shared/errors/codes';
import type { Budget, LimitSpec } from './limit-spec';
import { DEFAULT_MAX_KEYS, LocalBuckets } from './local-buckets';
import { RedisClients, type RedisEntry } from './redis-clients';
import { runBucketScript } from './redis-script';
import { ALLOWED, INPUT_SHORT, NEVER_FITS, OUTPUT_SHORT, resetMs, type Admission } from './token-bucket';

/** One bucket as seen by a decision. */
export interface BucketState {
  /** The capacity: tokens per unit. */
  readonly limit: number;
  /** Whole tokens left, floor(level); negative while overdrawn. */
  readonly remaining: number;
  /** ms until the bucket is full again. */
  readonly resetMs: number;
}

/** The answer of `check`. */
export interface LimitDecision {
  readonly allowed: boolean;
  /** Which bucket refused; null when allowed. */
  readonly limitedBy: 'input' | 'output' | null;
  /** The estimate exceeds the input capacity: waiting cannot help (`retryAfterMs` is 0). */
  readonly neverFits: boolean;
  /** ms until this request would be admitted (both buckets); 0 when allowed. */
  readonly retryAfterMs: number;
  /** Input bucket after the check (the estimate taken if allowed); null without an input limit. */
  readonly input: BucketState | null;
  /** Output bucket; null without an output limit. */
  readonly output: BucketState | null;
  /** Decided by the local fallback because the budget's Redis was unreachable. */
  readonly degraded: boolean;
}

/** Options of a RateLimiter. */
export interface RateLimiterOptions {
  log: Logger;
  /** Clock for local buckets, ms on a monotonic scale (default performance.now). Redis uses its own. */
  now?: () => number;
  /** Called when a Redis address becomes reachable or unreachable (for a gauge). */
  onRedisState?: (address: string, up: boolean) => void;
  /** Called for each charge dropped because Redis was down and the budget fails closed (a counter). */
  onChargeDropped?: (address: string) => void;
  /** Per-command Redis timeout, ms (default 250). */
  redisCommandTimeoutMs?: number;
  /** Bound on local budget keys (default 100,000). */
  maxLocalKeys?: number;
}

/** The decision for a budget without limits. */
const UNLIMITED: LimitDecision = Object.freeze({ allowed: true, limitedBy: null, neverFits: false, retryAfterMs: 0, input: null, output: null, degraded: false });

/** Checks and charges token budgets, locally or through Redis. */
export class RateLimiter {
  private readonly local: LocalBuckets;
  private readonly clients: RedisClients;
  private readonly onChargeDropped: ((address: string) => void) | undefined;

  constructor(opts: RateLimiterOptions) {
    const now = opts.now ?? (() => performance.now());
    this.local = new LocalBuckets(now, opts.maxLocalKeys ?? DEFAULT_MAX_KEYS);
    this.clients = new RedisClients({ log: opts.log, commandTimeoutMs: opts.redisCommandTimeoutMs ?? 250, onState: opts.onRedisState });
    this.onChargeDropped = opts.onChargeDropped;
  }

  /**
   * Checks a request estimated at `estimatedInputTokens` and, when allowed, takes the estimate
   * from the input bucket. Throws (or rejects with) SLUICE_RATE_LIMIT_UNAVAILABLE only for a
   * global budget with failureMode closed whose Redis is unreachable.
   */
  check(budget: Budget, estimatedInputTokens: number): LimitDecision | Promise<LimitDecision> {
    const { spec, redis } = budget;
    if (spec.inputPerUnit === null && spec.outputPerUnit === null) return UNLIMITED;
    if (redis === null) return decision(spec, this.local.check(budget.key, spec, estimatedInputTokens), false);
    const entry = this.clients.get(redis.address);
    const usable = this.clients.usable(entry);
    if (usable === true) return this.remoteCheck(entry, budget, estimatedInputTokens);
    if (usable === false) return this.checkWhileDown(budget, estimatedInputTokens);
    return usable.then((ok) => (ok ? this.remoteCheck(entry, budget, estimatedInputTokens) : this.checkWhileDown(budget, estimatedInputTokens)));
  }

  /**
   * Charges the usage known after the response: `inputCorrection` = actual − estimated prompt
   * tokens (negative refunds), `outputTokens` = generated tokens. May overdraw. Never throws;
   * the Promise (global budgets only) never rejects.
   */
  charge(budget: Budget, inputCorrection: number, outputTokens: number): void | Promise<void> {
    const { spec, redis } = budget;
    if ((spec.inputPerUnit === null || inputCorrection === 0) && (spec.outputPerUnit === null || outputTokens === 0)) return;
    if (redis === null) return this.local.charge(budget.key, spec, inputCorrection, outputTokens);
    const entry = this.clients.get(redis.address);
    if (entry.client.status !== 'ready') return this.chargeWhileDown(budget, inputCorrection, outputTokens);
    return runBucketScript(entry.client, budget, 'charge', inputCorrection, outputTokens).then(
      () => this.clients.succeeded(entry),
      (err: unknown) => {
        this.clients.failed(entry, err);
        this.chargeWhileDown(budget, inputCorrection, outputTokens);
      },
    );
  }

  /**
   * Closes Redis clients whose address no budget uses any more (call when a snapshot is applied,
   * with the addresses of its global limits). The returned Promise, which never rejects, only
   * says when their sockets are closed; there is no need to wait for it.
   */
  retain(addresses: ReadonlySet<string>): Promise<void> {
    return this.clients.retain(addresses);
  }

  /** Closes every Redis client. */
  close(): Promise<void> {
    return this.clients.close();
  }

  private async remoteCheck(entry: RedisEntry, budget: Budget, estimate: number): Promise<LimitDecision> {
    let admission: Admission;
    try {
      admission = await runBucketScript(entry.client, budget, 'check', estimate, 0);
    } catch (err) {
      this.clients.failed(entry, err);
      return this.checkWhileDown(budget, estimate);
    }
    this.clients.succeeded(entry);
    return decision(budget.spec, admission, false);
  }

  private checkWhileDown(budget: Budget, estimate: number): LimitDecision {
    const redis = budget.redis!;
    if (redis.failureMode === 'closed') {
      throw new SluiceError('SLUICE_RATE_LIMIT_UNAVAILABLE', `the token limit of route ${budget.route} cannot be checked: its Redis ${redis.address} is unreachable and rateLimit.global.failureMode is closed (failureMode: open would use per-replica limits while Redis is down)`);
    }
    return decision(budget.spec, this.local.check(budget.key, budget.spec, estimate), true);
  }

  private chargeWhileDown(budget: Budget, inputCorrection: number, outputTokens: number): void {
    const redis = budget.redis!;
    if (redis.failureMode === 'closed') this.onChargeDropped?.(redis.address);
    else this.local.charge(budget.key, budget.spec, inputCorrection, outputTokens);
  }
}

/** Turns an admission (local or Redis) into the decision the caller sees. */
function decision(spec: LimitSpec, a: Admission, degraded: boolean): LimitDecision {
  const v = a.verdict;
  return {
    allowed: v === ALLOWED,
    limitedBy: v === INPUT_SHORT || v === NEVER_FITS ? 'input' : v === OUTPUT_SHORT ? 'output' : null,
    neverFits: v === NEVER_FITS,
    retryAfterMs: a.waitMs,
    input: a.inTokens === null ? null : bucketState(a.inTokens, spec.inputPerUnit!, spec.unitMs),
    output: a.outTokens === null ? null : bucketState(a.outTokens, spec.outputPerUnit!, spec.unitMs),
    degraded,
  };
}

function bucketState(tokens: number, limit: number, unitMs: number): BucketState {
  return { limit, remaining: Math.floor(tokens), resetMs: resetMs(tokens, limit, unitMs) };
}
