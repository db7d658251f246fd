/**
 * The waiting room of one ModelServer: when none of its endpoints has capacity, a request waits
 * here and is released as capacity frees, in this order:
 *   1. the highest priority band first (see priority.ts);
 *   2. within a band, the user with the lowest recent usage (UsageWindow) among users with
 *      queued requests; on a tie, the user whose head request is oldest;
 *   3. FIFO within one user.
 * Releasing a request charges its estimated input tokens to its user at once, so a heavy user
 * with many queued requests is not picked again and again before its usage catches up; the
 * caller settles the estimate with the real usage later (`UsageWindow.settle`).
 *
 * Bounds: Σ queued body bytes ≤ maxBytes and count ≤ maxRequests; a request that would exceed
 * them drops the OLDEST queued requests (seed 003: "the earliest requests are discarded") with
 * SLUICE_QUEUE_FULL; a body larger than maxBytes on its own is refused at once. A request waiting
 * ttlMs or more fails with SLUICE_QUEUE_TIMEOUT. The TTL is one per queue, so entries expire in
 * arrival order and a single timer, armed for the oldest entry, serves them all.
 *
 * Capacity contract (no over-release): the queue never decides capacity itself; it asks
 * `hasCapacity(pending)`, where `pending` is the number of requests it has released whose
 * caller has not yet counted them in an endpoint's in-flight. A release resolves the admit
 * promise with a QueueRelease; the caller increments its in-flight counter and then calls
 * `claim()` (or calls `claim()` then `pump()` when it gives the request up). Promise
 * continuations run later than the release, so without `pending` one pump would release every
 * queued request against the same free slot. A ticket never claimed stops counting after
 * `claimTimeoutMs`, so a caller bug slows the queue instead of stopping it for good.
 *
 * One FairQueue lives per ModelServer across routing-snapshot swaps; `configure` applies new
 * bounds live (dropping or expiring at once what no longer fits). The lists behind it are in
 * waiting-list.ts; the usual hasCapacity is serverHasCapacity (capacity.ts).
 */
import type { QueueConfig } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import type { UsageWindow } from './usage-window';
import { Waiter, WaitingList } from './waiting-list';

/** What a request brings to the queue. */
export interface QueueRequest {
  /** Identity.user; usage is kept per user. */
  readonly user: string;
  /** Priority band, higher first (priorityOf). */
  readonly priority: number;
  /** Request body size, counted against maxBytes. */
  readonly bytes: number;
  /** Input tokens charged to the user when the request is let through. */
  readonly estimatedInputTokens: number;
  /** The client's connection; an abort while queued removes the request at once. */
  readonly signal?: AbortSignal;
}

/** A released request's hand-over: how long it waited, and the claim that ends its `pending` count. */
export interface QueueRelease {
  /** Time spent queued, ms. */
  readonly waitMs: number;
  /** Call once the request is counted in an endpoint's in-flight, or will not be sent. Idempotent. */
  claim(): void;
}

/** What became of a request; the label of sluice_queue_outcomes_total. */
export type QueueOutcome =
  | 'immediate'  // let through by admit without queueing
  | 'released'   // queued, then released by pump
  | 'timed_out'  // waited ttlMs (SLUICE_QUEUE_TIMEOUT)
  | 'dropped'    // oldest when the bounds overflowed (SLUICE_QUEUE_FULL)
  | 'rejected'   // body larger than maxBytes on its own (SLUICE_QUEUE_FULL)
  | 'cancelled'  // client went away while queued (QueueCancelledError)
  | 'closed';    // queue closed (close())

/** The rejection of a request whose client disconnected while queued (`name` is 'AbortError'). */
export class QueueCancelledError extends Error {
  constructor(server: string, readonly waitMs: number, cause: unknown) {
    super(`client disconnected after ${waitMs} ms in the queue of ModelServer ${server}`, { cause });
    this.name = 'AbortError';
  }
}

/** Timer functions, injectable so tests drive the TTL without real time. */
export interface QueueTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Construction options. */
export interface FairQueueOptions {
  /** `namespace/name` of the ModelServer, for messages. */
  name: string;
  /** Initial bounds. */
  config: QueueConfig;
  /** The data plane's shared usage window. */
  usage: UsageWindow;
  /** True when one more request may start, given `pending` released-but-unclaimed ones (see serverHasCapacity). */
  hasCapacity: (pending: number) => boolean;
  /** Called for every outcome with the time spent queued (0 for immediate and rejected), for metrics. */
  observe?: (outcome: QueueOutcome, waitMs: number) => void;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Timers (default: Node's, unref'd). */
  timers?: QueueTimers;
  /** Age after which an unclaimed release stops counting as pending (default 5000 ms). */
  claimTimeoutMs?: number;
}

/** A snapshot for the debug endpoint and the gauges. */
export interface QueueStats {
  /** Requests waiting. */
  queued: number;
  /** Σ body bytes of the requests waiting. */
  bytes: number;
  /** Users with queued requests (a user queued in two bands counts twice). */
  users: number;
  /** Released, not yet claimed. */
  pending: number;
  /** Queued requests per band, highest band first. */
  bands: { priority: number; queued: number }[];
  /** How long the oldest queued request has waited, ms; 0 when empty. */
  oldestWaitMs: number;
  /** Requests by outcome since the queue was created. */
  totals: Record<QueueOutcome, number>;
  /** Releases whose claim never came within claimTimeoutMs (a caller bug when non-zero). */
  expiredClaims: number;
}

const NODE_TIMERS: QueueTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The claim handle of a released request. */
class Ticket implements QueueRelease {
  constructor(readonly waitMs: number, readonly releasedAt: number, private readonly pending: Set<Ticket>) {}
  claim(): void {
    this.pending.delete(this);
  }
}

/** The per-ModelServer fair queue. */
export class FairQueue {
  private readonly name: string;
  private config: QueueConfig;
  private readonly usage: UsageWindow;
  private readonly hasCapacity: (pending: number) => boolean;
  private readonly observe: ((outcome: QueueOutcome, waitMs: number) => void) | undefined;
  private readonly now: () => number;
  private readonly timers: QueueTimers;
  private readonly claimTimeoutMs: number;
  private readonly waiting = new WaitingList();
  private readonly pending = new Set<Ticket>();
  private seq = 0;
  private timer: unknown = null;
  private timerDeadline = 0;
  private pumping = false;
  private closedWith: Error | null = null;
  private expiredClaims = 0;
  private readonly totals: Record<QueueOutcome, number> = { immediate: 0, released: 0, timed_out: 0, dropped: 0, rejected: 0, cancelled: 0, closed: 0 };

  constructor(options: FairQueueOptions) {
    this.name = options.name;
    this.config = options.config;
    this.usage = options.usage;
    this.hasCapacity = options.hasCapacity;
    this.observe = options.observe;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? NODE_TIMERS;
    this.claimTimeoutMs = options.claimTimeoutMs ?? 5000;
  }

  /**
   * Lets a request through or queues it. Returns `true` synchronously (no Promise allocated) when
   * nothing is queued and hasCapacity(pending) holds: the caller must then count the request
   * in-flight before yielding to the event loop. Otherwise returns a promise of its release, or
   * of SLUICE_QUEUE_FULL / SLUICE_QUEUE_TIMEOUT / QueueCancelledError. Either way the request's
   * estimatedInputTokens are charged to its user when it is let through.
   */
  admit(req: QueueRequest): true | Promise<QueueRelease> {
    if (this.closedWith !== null) {
      this.record('closed', 0);
      return Promise.reject(this.closedWith);
    }
    if (this.waiting.size === 0 && this.hasCapacity(this.pending.size)) {
      this.usage.add(req.user, req.estimatedInputTokens, 0);
      this.record('immediate', 0);
      return true;
    }
    return this.enqueue(req);
  }

  /**
   * Releases queued requests while hasCapacity(pending) holds; returns how many. Call it whenever
   * capacity may have freed: a request to this server finished, engine metrics were scraped,
   * endpoints changed, a release was given up.
   */
  pump(): number {
    if (this.pumping || this.closedWith !== null) return 0;
    this.pumping = true;
    let released = 0;
    try {
      const now = this.now();
      this.expireClaims(now);
      this.expireOverdue(now);
      while (this.waiting.size > 0 && this.hasCapacity(this.pending.size)) {
        this.release(this.waiting.next(this.usageOf)!, now);
        released++;
      }
    } finally {
      this.pumping = false;
    }
    return released;
  }

  /** Applies new bounds: drops the oldest beyond them, expires what outlived a shorter TTL, pumps. */
  configure(config: QueueConfig): void {
    this.config = config;
    if (this.closedWith !== null) return;
    this.expireOverdue(this.now());
    this.enforceBounds();
    this.armTimer();
    this.pump();
  }

  /**
   * Rejects every queued request (default: SLUICE_NO_ENDPOINTS saying the data plane is shutting
   * down), clears the timer, and refuses later admits the same way. Idempotent.
   */
  close(error?: Error): void {
    if (this.closedWith !== null) return;
    this.closedWith = error ?? new SluiceError('SLUICE_NO_ENDPOINTS', `ModelServer ${this.name}: the data plane is shutting down; the queued request was not sent`);
    this.clearTimer();
    while (this.waiting.oldest !== null) this.fail(this.waiting.oldest, 'closed', this.closedWith);
  }

  /** Counters and gauges for the debug endpoint and metrics. */
  stats(): QueueStats {
    const oldest = this.waiting.oldest;
    return {
      queued: this.waiting.size,
      bytes: this.waiting.bytes,
      users: this.waiting.userCount(),
      pending: this.pending.size,
      bands: this.waiting.bandCounts(),
      oldestWaitMs: oldest === null ? 0 : this.now() - oldest.enqueuedAt,
      totals: { ...this.totals },
      expiredClaims: this.expiredClaims,
    };
  }

  private enqueue(req: QueueRequest): Promise<QueueRelease> {
    if (req.signal?.aborted) {
      this.record('cancelled', 0);
      return Promise.reject(new QueueCancelledError(this.name, 0, req.signal.reason));
    }
    if (req.bytes > this.config.maxBytes) {
      this.record('rejected', 0);
      return Promise.reject(new SluiceError('SLUICE_QUEUE_FULL', `request body of ${req.bytes} bytes is larger than the queue of ModelServer ${this.name} (${this.config.maxBytes} bytes)`));
    }
    const now = this.now();
    this.expireOverdue(now);
    const hadWaiting = this.waiting.size > 0;
    const entry = new Waiter(req, Number.isFinite(req.priority) ? req.priority : 0, now, this.seq++);
    const promise = new Promise<QueueRelease>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    this.waiting.add(entry);
    if (req.signal) {
      entry.onAbort = () => this.fail(entry, 'cancelled', new QueueCancelledError(this.name, this.now() - entry.enqueuedAt, req.signal!.reason));
      req.signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    // The new entry fits on its own (checked above), so only older ones are dropped.
    this.enforceBounds();
    this.armTimer();
    // An empty queue was just found without capacity; a non-empty one may not have been pumped yet.
    if (hadWaiting) this.pump();
    return promise;
  }

  private release(entry: Waiter, now: number): void {
    this.leave(entry);
    const waitMs = now - entry.enqueuedAt;
    this.usage.add(entry.req.user, entry.req.estimatedInputTokens, 0);
    const ticket = new Ticket(waitMs, now, this.pending);
    this.pending.add(ticket);
    this.record('released', waitMs);
    entry.resolve(ticket);
  }

  private fail(entry: Waiter, outcome: QueueOutcome, error: Error): void {
    if (!this.leave(entry)) return;
    this.record(outcome, this.now() - entry.enqueuedAt);
    entry.reject(error);
  }

  private record(outcome: QueueOutcome, waitMs: number): void {
    this.totals[outcome]++;
    this.observe?.(outcome, waitMs);
  }

  private enforceBounds(): void {
    const { maxBytes, maxRequests } = this.config;
    const w = this.waiting;
    while (w.oldest !== null && (w.size > maxRequests || w.bytes > maxBytes)) {
      const oldest = w.oldest;
      this.fail(oldest, 'dropped', new SluiceError('SLUICE_QUEUE_FULL', `the queue of ModelServer ${this.name} overflowed (${maxRequests} requests, ${maxBytes} bytes) and dropped its oldest request, this one, after ${this.now() - oldest.enqueuedAt} ms`));
    }
  }

  private expireOverdue(now: number): void {
    const ttl = this.config.ttlMs;
    for (let w = this.waiting.oldest; w !== null && now - w.enqueuedAt >= ttl; w = this.waiting.oldest) {
      this.fail(w, 'timed_out', new SluiceError('SLUICE_QUEUE_TIMEOUT', `the request waited ${now - w.enqueuedAt} ms in the queue of ModelServer ${this.name}, its TTL is ${ttl} ms`));
    }
  }

  /** Releases older than claimTimeoutMs stop counting as pending (oldest first: a Set keeps insertion order). */
  private expireClaims(now: number): void {
    for (const ticket of this.pending) {
      if (now - ticket.releasedAt < this.claimTimeoutMs) break;
      this.pending.delete(ticket);
      this.expiredClaims++;
    }
  }

  /**
   * Keeps one timer for the oldest entry's deadline. A timer due earlier than needed (its entry
   * left) is kept: it fires, expires nothing and re-arms, cheaper than re-arming on every release.
   */
  private armTimer(): void {
    const oldest = this.waiting.oldest;
    if (oldest === null) return this.clearTimer();
    const deadline = oldest.enqueuedAt + this.config.ttlMs;
    if (this.timer !== null && this.timerDeadline <= deadline) return;
    this.clearTimer();
    this.timerDeadline = deadline;
    this.timer = this.timers.setTimeout(this.onTimer, Math.max(0, deadline - this.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.expireOverdue(this.now());
    this.armTimer();
  };

  private clearTimer(): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly usageOf = (user: string): number => this.usage.usage(user);

  /** Takes a request off the list and its abort listener off the signal; false when it had left already. */
  private leave(entry: Waiter): boolean {
    if (!this.waiting.remove(entry)) return false;
    if (entry.onAbort !== null) entry.req.signal!.removeEventListener('abort', entry.onAbort);
    if (this.waiting.size === 0) this.clearTimer();
    return true;
  }
}
