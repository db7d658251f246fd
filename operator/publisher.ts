/**
 * Publishes snapshots: writes the durable copy (a file here; a ConfigMap on Kubernetes) and
 * pushes to every data-plane admin URL with `PUT /v1/snapshot`. Each target converges on its own:
 * a failed push is retried with capped exponential backoff until it succeeds or a newer snapshot
 * replaces it. A target that reports a newer serving version (409) tells the owner to renumber;
 * a second 409 in a row backs off like any failure, so a target that refuses every number (or
 * one the owner will not renumber above) costs a push every few seconds, not thousands a second.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import type { Logger } from '../shared/log/logger';
import type { RoutingSnapshot } from '../shared/snapshot/schema';

/** Push state of one data plane. */
export interface TargetState {
  url: string;
  appliedVersion: number | null;
  appliedHash: string | null;
  lastError: string | null;
}

/** Publisher options. */
export interface PublisherOptions {
  targets: readonly string[];
  token: string | null;
  snapshotFile: string | null;
  log: Logger;
  /** A target already serves `version` (pushed by an earlier operator run): renumber above it. */
  onStale: (servingVersion: number) => void;
  /** Called whenever a target's applied version changes. */
  onProgress?: (states: readonly TargetState[]) => void;
}

const GZIP_ABOVE = 256 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/** Writes and pushes the latest snapshot. */
export class Publisher {
  private readonly opts: PublisherOptions;
  private latest: { snapshot: RoutingSnapshot; body: Buffer; gzip: boolean } | null = null;
  private states: TargetState[];
  private readonly loops = new Map<string, Promise<void>>();
  private closed = false;

  constructor(opts: PublisherOptions) {
    this.opts = opts;
    this.states = opts.targets.map((url) => ({ url, appliedVersion: null, appliedHash: null, lastError: null }));
  }

  /** Current per-target state. */
  targets(): readonly TargetState[] {
    return this.states;
  }

  /**
   * Replaces the set of data planes (Kubernetes: the ready data-plane pods). Known targets keep
   * their state; new ones get the latest snapshot at once.
   */
  setTargets(urls: readonly string[]): void {
    const old = new Map(this.states.map((s) => [s.url, s]));
    this.states = urls.map((url) => old.get(url) ?? { url, appliedVersion: null, appliedHash: null, lastError: null });
    if (this.latest) this.startLoops();
    this.opts.onProgress?.(this.states);
  }

  /** Makes `snapshot` the one to converge on. */
  publish(snapshot: RoutingSnapshot): void {
    const json = Buffer.from(JSON.stringify(snapshot));
    const gzip = json.length > GZIP_ABOVE;
    this.latest = { snapshot, body: gzip ? gzipSync(json) : json, gzip };
    if (this.opts.snapshotFile) {
      // Write then rename, so a reader (a data plane starting up) never sees half a file.
      const tmp = `${this.opts.snapshotFile}.tmp`;
      writeFileSync(tmp, json);
      renameSync(tmp, this.opts.snapshotFile);
    }
    this.startLoops();
  }

  private startLoops(): void {
    for (const state of this.states) {
      if (!this.loops.has(state.url)) {
        const loop = this.converge(state).finally(() => this.loops.delete(state.url));
        this.loops.set(state.url, loop);
      }
    }
  }

  /** Resolves when every target serves the latest snapshot (or the publisher closes). */
  async settled(): Promise<void> {
    while (this.loops.size > 0) await Promise.all([...this.loops.values()]);
  }

  /** Stops retrying. */
  close(): void {
    this.closed = true;
  }

  private async converge(state: TargetState): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    let staleInARow = 0;
    while (!this.closed && this.latest && state.appliedHash !== this.latest.snapshot.hash && this.states.includes(state)) {
      const { snapshot, body, gzip } = this.latest;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (gzip) headers['content-encoding'] = 'gzip';
        if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
        const res = await request(`${state.url.replace(/\/$/, '')}/v1/snapshot`, { method: 'PUT', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const text = await res.body.text();
        if (res.statusCode === 200) {
          state.appliedVersion = snapshot.version;
          state.appliedHash = snapshot.hash;
          state.lastError = null;
          backoff = BACKOFF_MIN_MS;
          staleInARow = 0;
          this.opts.log.info({ target: state.url, version: snapshot.version }, 'snapshot pushed');
          this.opts.onProgress?.(this.states);
          continue;
        }
        const parsed = safeJson(text) as { error?: { message?: string; servingVersion?: number } } | null;
        state.lastError = `${res.statusCode}: ${parsed?.error?.message ?? text.slice(0, 300)}`;
        if (res.statusCode === 409 && typeof parsed?.error?.servingVersion === 'number') {
          this.opts.onStale(parsed.error.servingVersion);
          // The first 409 is the usual restart case: renumbered, retry at once.
          if (staleInARow++ === 0) continue;
        }
        this.opts.log.warn({ target: state.url, error: state.lastError, retryInMs: backoff }, 'snapshot push refused');
      } catch (err) {
        state.lastError = (err as Error).message;
        this.opts.log.warn({ target: state.url, error: state.lastError, retryInMs: backoff }, 'snapshot push failed');
      }
      await new Promise((r) => setTimeout(r, backoff));
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
