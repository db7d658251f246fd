/**
 * Publishes snapshots and keeps every data plane on the latest one.
 *
 * 1. Durable copy first. A snapshot is written (a file here, the ConfigMap on Kubernetes) before
 *    any data plane is pushed it, so a data plane that restarts while the operator is away reads
 *    what the others serve. A failed write does not hold the push back (a snapshot too large for a
 *    ConfigMap would otherwise never be served): it is kept in `durable().error` for status and
 *    retried with backoff (1 s doubling to 30 s) until it succeeds or a newer snapshot replaces it.
 * 2. Push. Each target converges on its own: a failed push is retried with capped exponential
 *    backoff. A target that reports a newer serving version (409) tells the owner to renumber;
 *    a second 409 in a row backs off like any failure, so a target that refuses every number
 *    costs a push every few seconds, not thousands a second.
 * 3. Verify. A data-plane container that restarts keeps its pod IP, so nothing else tells the
 *    operator it lost its snapshot. `verify()` (every `startVerifying` interval) asks each target
 *    `GET /v1/snapshot`; only a hash the data plane itself reported (in a push answer or that GET)
 *    counts as applied. A target serving another hash, or none, is pushed again at once.
 */
import { gzipSync } from 'node:zlib';
import type { Logger } from '../shared/log/logger';
import type { RoutingSnapshot } from '../shared/snapshot/schema';
import type { DataplaneClient } from './dataplane-client';
import type { ProviderCredential } from '../shared/snapshot/compile-provider';

/** Push state of one data plane. */
export interface TargetState {
  url: string;
  /** Version and hash the data plane last reported serving; null when unknown or unreachable. */
  appliedVersion: number | null;
  appliedHash: string | null;
  /** When the data plane last reported its hash (ISO time), in a push answer or a check. */
  verifiedAt: string | null;
  lastError: string | null;
}

/** Where the durable copy goes: a file or the snapshot ConfigMap. */
export interface DurableCopy {
  /** For messages, e.g. `ConfigMap sluice-system/sluice-snapshot`. */
  readonly where: string;
  /** Stores `snapshot`; rejects with a message a human can act on. */
  write(snapshot: RoutingSnapshot): Promise<void>;
}

/** The durable copy's state, for status. */
export interface DurableState {
  where: string;
  /** Version and hash stored last; null before the first successful write. */
  version: number | null;
  hash: string | null;
  /** Why the latest snapshot is not stored; null when it is. */
  error: string | null;
}

/** Publisher options. */
export interface PublisherOptions {
  targets: readonly string[];
  client: DataplaneClient;
  durable: DurableCopy | null;
  log: Logger;
  /** A target already serves `version` (pushed by an earlier operator run): renumber above it. */
  onStale: (servingVersion: number) => void;
  /** Called whenever what a target serves, or the durable copy's state, changes. */
  onProgress?: (states: readonly TargetState[]) => void;
}

const GZIP_ABOVE = 256 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const DURABLE_BACKOFF_MIN_MS = 1_000;
const DURABLE_BACKOFF_MAX_MS = 30_000;
/** Served-hash checks in flight at once: a round over 100 replicas is 13 short waves, not 100 sockets. */
const VERIFY_CONCURRENCY = 8;
/** Verification rounds start every interval ± this fraction, so replicas of a fleet do not beat in step. */
const VERIFY_JITTER = 0.1;

interface Entry {
  snapshot: RoutingSnapshot;
  body: Buffer;
  gzip: boolean;
}

const newState = (url: string): TargetState => ({ url, appliedVersion: null, appliedHash: null, verifiedAt: null, lastError: null });

/** Writes, pushes and verifies the latest snapshot. */
export class Publisher {
  private readonly opts: PublisherOptions;
  /** The snapshot published last; pushed once its durable write was attempted. */
  private wanted: Entry | null = null;
  /** The snapshot the push loops converge on. */
  private latest: Entry | null = null;
  private states: TargetState[];
  private readonly loops = new Map<string, Promise<void>>();
  /** Wakes a push loop out of its backoff sleep (a check found the target reachable, or a newer snapshot). */
  private readonly wakers = new Map<string, () => void>();
  /** Bumped on every push answer, so a check that raced a push does not overwrite its newer result. */
  private readonly epochs = new WeakMap<TargetState, number>();
  private durableState: DurableState | null;
  private writing: Promise<void> = Promise.resolve();
  private durableTimer: NodeJS.Timeout | null = null;
  private verifyTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(opts: PublisherOptions) {
    this.opts = opts;
    this.states = opts.targets.map(newState);
    this.durableState = opts.durable ? { where: opts.durable.where, version: null, hash: null, error: null } : null;
  }

  /** Current per-target state. */
  targets(): readonly TargetState[] {
    return this.states;
  }

  /** The durable copy's state; null when there is none (no --snapshot-out). */
  durable(): DurableState | null {
    return this.durableState;
  }

  /**
   * Replaces the set of data planes (Kubernetes: the data-plane pods). Known targets keep
   * their state; new ones get the latest snapshot at once.
   */
  setTargets(urls: readonly string[]): void {
    const old = new Map(this.states.map((s) => [s.url, s]));
    this.states = urls.map((url) => old.get(url) ?? newState(url));
    if (this.latest) this.startLoops();
    this.progress();
  }

  /**
   * Makes `snapshot` the one to converge on: durable copy first, then the pushes. `credentials`
   * (provider API keys the snapshot names) go in the pushes beside the snapshot, never in the
   * durable copy.
   */
  publish(snapshot: RoutingSnapshot, credentials: readonly ProviderCredential[] = []): void {
    const json = Buffer.from(JSON.stringify(credentials.length ? { ...snapshot, credentials } : snapshot));
    const gzip = json.length > GZIP_ABOVE;
    const entry: Entry = { snapshot, body: gzip ? gzipSync(json) : json, gzip };
    this.wanted = entry;
    if (this.durableTimer) clearTimeout(this.durableTimer);
    this.durableTimer = null;
    if (!this.opts.durable) {
      this.promote(entry);
      return;
    }
    this.queueWrite(entry, DURABLE_BACKOFF_MIN_MS, true);
  }

  /** The push loops move to `entry`; sleeping ones wake so the new snapshot goes out at once. */
  private promote(entry: Entry): void {
    if (this.closed || this.wanted !== entry) return;
    this.latest = entry;
    this.startLoops();
    for (const wake of [...this.wakers.values()]) wake();
  }

  /** One write attempt, serialised after earlier ones; a failure schedules the next with backoff. */
  private queueWrite(entry: Entry, backoffMs: number, thenPush: boolean): void {
    const durable = this.opts.durable!;
    this.writing = this.writing.then(async () => {
      if (this.closed || this.wanted !== entry) return;
      const { version, hash } = entry.snapshot;
      let ok = true;
      try {
        await durable.write(entry.snapshot);
        this.durableState = { where: durable.where, version, hash, error: null };
      } catch (err) {
        ok = false;
        const error = (err as Error).message;
        this.durableState = { ...this.durableState!, error };
        this.opts.log.warn({ where: durable.where, version, error, retryInMs: backoffMs }, 'writing the durable snapshot copy failed; data planes are pushed anyway');
      }
      this.progress();
      if (thenPush) this.promote(entry);
      if (!ok && !this.closed && this.wanted === entry) {
        this.durableTimer = setTimeout(() => this.queueWrite(entry, Math.min(backoffMs * 2, DURABLE_BACKOFF_MAX_MS), false), backoffMs);
        this.durableTimer.unref();
      }
    }).catch((err: Error) => {
      // A rejected link would skip every later write; log it and keep the chain alive.
      this.opts.log.error({ err: err.message }, 'publishing the durable copy failed unexpectedly');
    });
  }

  private startLoops(): void {
    for (const state of this.states) this.startLoop(state);
  }

  private startLoop(state: TargetState): void {
    if (this.loops.has(state.url) || !this.latest) return;
    const loop = this.converge(state).finally(() => this.loops.delete(state.url));
    this.loops.set(state.url, loop);
  }

  /** Resolves when the durable write was attempted and every target serves the latest snapshot (or the publisher closes). */
  async settled(): Promise<void> {
    await this.writing;
    while (this.loops.size > 0) await Promise.all([...this.loops.values()]);
  }

  /**
   * Checks every `intervalMs` (± 10 %) what each target serves. Rounds never overlap: the next
   * is timed from the end of the last, and each check is bounded by the client's timeout.
   */
  startVerifying(intervalMs: number): void {
    const next = () => {
      if (this.closed) return;
      const delay = intervalMs * (1 - VERIFY_JITTER + 2 * VERIFY_JITTER * Math.random());
      this.verifyTimer = setTimeout(() => void this.verify().finally(next), delay);
      this.verifyTimer.unref();
    };
    next();
  }

  /** One verification round over every target, at most VERIFY_CONCURRENCY at a time. */
  async verify(): Promise<void> {
    if (this.closed || !this.latest) return;
    const queue = [...this.states];
    const worker = async () => {
      for (let s = queue.shift(); s; s = queue.shift()) await this.verifyOne(s);
    };
    await Promise.all(Array.from({ length: Math.min(VERIFY_CONCURRENCY, queue.length) }, worker));
  }

  private async verifyOne(state: TargetState): Promise<void> {
    const epoch = this.epochs.get(state) ?? 0;
    let served: { version: number; hash: string } | null = null;
    let error: string | null = null;
    try {
      const a = await this.opts.client.served(state.url);
      const body = safeJson(a.text) as { version?: unknown; hash?: unknown; credentialsMissing?: unknown; error?: { message?: string } } | null;
      const missing = typeof body?.credentialsMissing === 'number' ? body.credentialsMissing : 0;
      // Serving the snapshot without the credentials it names (restarted from its file) is not serving it.
      if (a.status === 200 && missing > 0) error = `serves snapshot ${String(body?.version)} without ${missing} provider credential(s) it names (restarted since the last push)`;
      else if (a.status === 200 && typeof body?.hash === 'string' && typeof body.version === 'number') served = { version: body.version, hash: body.hash };
      else error = `GET /v1/snapshot answered ${a.status}: ${body?.error?.message ?? a.text.slice(0, 200)}`;
    } catch (err) {
      error = `GET /v1/snapshot failed: ${(err as Error).message}`;
    }
    // A push answered while this check was out: that answer is newer than this one.
    if (this.closed || (this.epochs.get(state) ?? 0) !== epoch || !this.states.includes(state) || !this.latest) return;
    const want = this.latest.snapshot;
    const before = state.appliedHash;
    state.appliedHash = served?.hash ?? null;
    state.appliedVersion = served?.version ?? null;
    if (served) state.verifiedAt = new Date().toISOString();
    if (state.appliedHash === want.hash) {
      if (before !== state.appliedHash) this.progress();
      return;
    }
    state.lastError = served ? `serves snapshot ${served.version} (hash ${served.hash.slice(0, 12)}), not ${want.version} (hash ${want.hash.slice(0, 12)})` : error;
    if (before === want.hash) this.opts.log.warn({ target: state.url, error: state.lastError }, 'data plane no longer serves the current snapshot; pushing it again');
    this.startLoop(state);
    // Reachable but wrong (typically restarted): push now, not after the loop's backoff.
    if (served || error?.startsWith('GET /v1/snapshot answered') || error?.includes('provider credential')) this.wakers.get(state.url)?.();
    if (before !== state.appliedHash) this.progress();
  }

  /** Stops retrying and checking. */
  close(): void {
    this.closed = true;
    if (this.durableTimer) clearTimeout(this.durableTimer);
    if (this.verifyTimer) clearTimeout(this.verifyTimer);
    for (const wake of [...this.wakers.values()]) wake();
  }

  private progress(): void {
    this.opts.onProgress?.(this.states);
  }

  /** Sleeps `ms`, or less when woken. */
  private sleep(url: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakers.get(url) === done) this.wakers.delete(url);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.set(url, done);
    });
  }

  private async converge(state: TargetState): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    let staleInARow = 0;
    while (!this.closed && this.latest && state.appliedHash !== this.latest.snapshot.hash && this.states.includes(state)) {
      const { snapshot, body, gzip } = this.latest;
      try {
        const res = await this.opts.client.push(state.url, body, gzip);
        this.epochs.set(state, (this.epochs.get(state) ?? 0) + 1);
        const parsed = safeJson(res.text) as { hash?: unknown; version?: unknown; credentialsMissing?: unknown; error?: { message?: string; servingVersion?: number } } | null;
        if (res.status === 200 && typeof parsed?.credentialsMissing === 'number' && parsed.credentialsMissing > 0) {
          state.lastError = `applied the snapshot but lacks ${parsed.credentialsMissing} provider credential(s) it names`;
        } else if (res.status === 200) {
          // The answer names what the data plane now serves; that, not what was sent, is recorded.
          state.appliedVersion = typeof parsed?.version === 'number' ? parsed.version : snapshot.version;
          state.appliedHash = typeof parsed?.hash === 'string' ? parsed.hash : snapshot.hash;
          state.verifiedAt = new Date().toISOString();
          state.lastError = null;
          backoff = BACKOFF_MIN_MS;
          staleInARow = 0;
          this.opts.log.info({ target: state.url, version: snapshot.version }, 'snapshot pushed');
          this.progress();
          continue;
        } else {
          state.lastError = `${res.status}: ${parsed?.error?.message ?? res.text.slice(0, 300)}`;
        }
        if (res.status === 409 && typeof parsed?.error?.servingVersion === 'number') {
          this.opts.onStale(parsed.error.servingVersion);
          // The first 409 is the usual restart case: renumbered; push that once it is stored.
          if (staleInARow++ === 0) {
            await this.writing;
            continue;
          }
        }
        this.opts.log.warn({ target: state.url, error: state.lastError, retryInMs: backoff }, 'snapshot push refused');
      } catch (err) {
        state.lastError = (err as Error).message;
        this.opts.log.warn({ target: state.url, error: state.lastError, retryInMs: backoff }, 'snapshot push failed');
      }
      await this.sleep(state.url, backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
