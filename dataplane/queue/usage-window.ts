/**
 * Recent token usage per user over a sliding window, the key the fairness queue orders users by.
 * One instance is shared by every ModelServer queue of a data plane, so a user's usage counts all
 * of its traffic through this replica (replicas do not share usage).
 *
 * Usage is weighted: `input × inputTokenWeight + output × outputTokenWeight`. Each user has a ring
 * of N buckets (default 12) of `windowMs / N` each; bucket number b = floor(now / bucketMs), and
 * usage(now) = Σ buckets b−N+1 … b. The slide is therefore coarse by one bucket: a token counts
 * for between `windowMs − bucketMs` and `windowMs` (55–60 s with the 60 s default), and falls
 * out all at once with its bucket.
 *
 * Memory is bounded: a user whose buckets have all left the window is dropped, and at most
 * `maxUsers` users are tracked (beyond that the least recently charged user is forgotten, which
 * errs in that user's favour).
 */
import type { FairnessConfig } from '../../shared/config/router-policy';

/** Buckets per window unless told otherwise. */
export const USAGE_WINDOW_BUCKETS = 12;
/** Users tracked at most unless told otherwise: 12 doubles each, about 15 MB at the cap. */
export const USAGE_WINDOW_MAX_USERS = 100_000;

/** The fairness settings a usage window reads. */
export type UsageWindowConfig = Pick<FairnessConfig, 'windowMs' | 'inputTokenWeight' | 'outputTokenWeight'>;

/** Construction options; all optional. */
export interface UsageWindowOptions {
  /** Buckets per window (default 12). */
  buckets?: number;
  /** Users tracked at most (default 100,000). */
  maxUsers?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/** One user's ring. */
interface UserRing {
  readonly buckets: Float64Array;
  /** Number of the newest bucket written; older slots hold buckets head−N+1 … head−1. */
  head: number;
}

/** Per-user weighted token usage over a sliding window. */
export class UsageWindow {
  private readonly n: number;
  private readonly maxUsers: number;
  private readonly now: () => number;
  // Insertion order is kept equal to `head` order (a user is moved to the end when its head
  // advances), so the users that left the window are always at the front of the map.
  private readonly users = new Map<string, UserRing>();
  private windowMs = 0;
  private bucketMs = 0;
  private inputWeight = 1;
  private outputWeight = 1;
  private sweptBucket = -Infinity;

  constructor(config: UsageWindowConfig, options: UsageWindowOptions = {}) {
    this.n = options.buckets ?? USAGE_WINDOW_BUCKETS;
    this.maxUsers = options.maxUsers ?? USAGE_WINDOW_MAX_USERS;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.n) || this.n < 1) throw new RangeError(`buckets must be a positive integer (got ${this.n})`);
    if (!Number.isInteger(this.maxUsers) || this.maxUsers < 1) throw new RangeError(`maxUsers must be a positive integer (got ${this.maxUsers})`);
    this.configure(config);
  }

  /**
   * Applies new fairness settings (a snapshot swap; unchanged settings change nothing). New
   * weights or a new window forget the recorded usage: usage weighed one way cannot be compared
   * with usage weighed another, and a stale ordering would otherwise outlive the change by a
   * whole window (with weights set to 0 for FIFO, the last usage would rank users for good).
   */
  configure(config: UsageWindowConfig): void {
    const changed = config.windowMs !== this.windowMs || config.inputTokenWeight !== this.inputWeight || config.outputTokenWeight !== this.outputWeight;
    this.inputWeight = config.inputTokenWeight;
    this.outputWeight = config.outputTokenWeight;
    if (config.windowMs !== this.windowMs) {
      this.windowMs = config.windowMs;
      this.bucketMs = config.windowMs / this.n;
    }
    if (changed) {
      this.users.clear();
      this.sweptBucket = -Infinity;
    }
  }

  /**
   * Charges `inputTokens × inputTokenWeight + outputTokens × outputTokenWeight` to `user` now.
   * A negative total is a correction (an estimate that was too high): it is taken back from the
   * newest buckets first, and usage never goes below 0.
   */
  add(user: string, inputTokens: number, outputTokens: number): void {
    const amount = inputTokens * this.inputWeight + outputTokens * this.outputWeight;
    if (amount > 0) this.charge(user, amount);
    else if (amount < 0) this.refund(user, -amount);
    // 0 and NaN change nothing.
  }

  /**
   * Settles a request charged `estimatedInputTokens` when it was let through (the fairness queue
   * does that) with its real usage from the response: adds `inputTokens − estimatedInputTokens`
   * input tokens and `outputTokens` output tokens. With no usage known (the request failed),
   * pass 0 and 0 to give the estimate back.
   */
  settle(user: string, estimatedInputTokens: number, inputTokens: number, outputTokens: number): void {
    this.add(user, inputTokens - estimatedInputTokens, outputTokens);
  }

  /** The user's weighted usage in the window; 0 for unknown users. */
  usage(user: string): number {
    const ring = this.users.get(user);
    if (!ring) return 0;
    const total = this.sum(ring, this.bucketOf(this.now()));
    if (total <= 0) this.users.delete(user);
    return total;
  }

  /** How many users are tracked (some may have just left the window). */
  get size(): number {
    return this.users.size;
  }

  private bucketOf(ms: number): number {
    return Math.floor(ms / this.bucketMs);
  }

  private slot(bucket: number): number {
    return ((bucket % this.n) + this.n) % this.n;
  }

  /** Σ of the ring's buckets that are still in the window ending at bucket `b`. */
  private sum(ring: UserRing, b: number): number {
    let total = 0;
    for (let k = Math.max(ring.head - this.n + 1, b - this.n + 1); k <= ring.head; k++) total += ring.buckets[this.slot(k)]!;
    return total;
  }

  private charge(user: string, amount: number): void {
    const b = this.bucketOf(this.now());
    this.sweep(b);
    let ring = this.users.get(user);
    if (!ring) {
      if (this.users.size >= this.maxUsers) this.users.delete(this.users.keys().next().value!);
      ring = { buckets: new Float64Array(this.n), head: b };
      this.users.set(user, ring);
    } else if (b > ring.head) {
      // Clear the slots of the buckets skipped since the last charge (all of them after a gap of N or more).
      const from = Math.max(ring.head + 1, b - this.n + 1);
      for (let k = from; k <= b; k++) ring.buckets[this.slot(k)] = 0;
      ring.head = b;
      this.users.delete(user);
      this.users.set(user, ring);
    }
    // A clock that went backwards charges the newest bucket rather than rewriting history.
    ring.buckets[this.slot(ring.head)]! += amount;
  }

  private refund(user: string, amount: number): void {
    const ring = this.users.get(user);
    if (!ring) return;
    const b = this.bucketOf(this.now());
    let left = amount;
    for (let k = ring.head; k >= Math.max(ring.head - this.n + 1, b - this.n + 1) && left > 0; k--) {
      const s = this.slot(k);
      const take = Math.min(ring.buckets[s]!, left);
      ring.buckets[s]! -= take;
      left -= take;
    }
    if (this.sum(ring, b) <= 0) this.users.delete(user);
  }

  /** Drops users whose newest bucket left the window; at most once per bucket, O(dropped). */
  private sweep(b: number): void {
    if (b === this.sweptBucket) return;
    this.sweptBucket = b;
    for (const [user, ring] of this.users) {
      if (b - ring.head < this.n) break;
      this.users.delete(user);
    }
  }
}
