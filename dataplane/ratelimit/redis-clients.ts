/**
 * One ioredis client per Redis address, shared by every route whose global limit uses it, created
 * on first use and closed by `retain` once no route names it. Tracks whether each address is
 * reachable and logs only the changes (unreachable / reachable again), never per request.
 *
 * Client settings, chosen so an unreachable Redis costs a request microseconds, not seconds:
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of queueing;
 *   callers look at `status` first and do not even try.
 * - `commandTimeout` (default 250 ms, healthy loopback p99 is well under 1 ms): a hung Redis
 *   (connection open, no answers) fails the command; the connection is then dropped so the client
 *   reconnects and requests take the fast path until Redis answers again.
 * - `autoResendUnfulfilledCommands: false`: a check that timed out must not run later (it would
 *   charge a request that was already decided elsewhere).
 * - `retryStrategy`: reconnect after 50, 100, 200, 400, 800 ms, then every 1 s, forever, so it
 *   recovers by itself within about a second of Redis coming back.
 */
import Redis from 'ioredis';
import type { Logger } from '../../shared/log/logger';
import { defineBucketScript, type BucketClient } from './redis-script';

/** ms between reconnect attempts: 50 · 2^(attempt−1), capped at 1 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 10), 1_000);
}

/** A shared client and what is known about its address. */
export interface RedisEntry {
  readonly address: string;
  readonly client: BucketClient;
  /** Last known reachability; null until the first connection succeeds or fails. */
  up: boolean | null;
  /** Pending while the very first connection is being made (requests wait for it, bounded). */
  firstConnect: Promise<boolean> | null;
  /** Why the address went down, for the log line. */
  lastError: string | null;
  /** Set by `retain`/`close`, so our own disconnect is not reported as an outage. */
  closing: boolean;
}

/** Options of the client pool. */
export interface RedisClientsOptions {
  log: Logger;
  /** Per-command timeout, also the longest a request waits for the first connection. */
  commandTimeoutMs: number;
  /** Called on every change of reachability (also the first successful connection). */
  onState?: (address: string, up: boolean) => void;
}

/** The pool of clients by address. */
export class RedisClients {
  private readonly entries = new Map<string, RedisEntry>();

  constructor(private readonly opts: RedisClientsOptions) {}

  /** The client for `address`, created (and connecting) on first use. */
  get(address: string): RedisEntry {
    return this.entries.get(address) ?? this.create(address);
  }

  /**
   * Whether a command should be sent now: true when connected, false when known down (the caller
   * falls back at once), or a Promise while the first connection is under way.
   */
  usable(entry: RedisEntry): boolean | Promise<boolean> {
    if (entry.client.status === 'ready') return true;
    return entry.firstConnect ?? false;
  }

  /** Records a command that succeeded (covers errors that did not break the connection). */
  succeeded(entry: RedisEntry): void {
    if (entry.up !== true) this.mark(entry, true);
  }

  /** Records a failed command; after a timeout the connection is dropped and remade. */
  failed(entry: RedisEntry, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    entry.lastError = message;
    if (message === 'Command timed out' && entry.client.status === 'ready') entry.client.disconnect(true);
    this.mark(entry, false);
  }

  /**
   * Closes the clients of addresses not in `addresses` (called when a snapshot is applied).
   * Resolves once their connections are closed, or after twice the command timeout.
   */
  retain(addresses: ReadonlySet<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [address, entry] of this.entries) {
      if (addresses.has(address)) continue;
      this.entries.delete(address);
      entry.closing = true;
      closing.push(this.disconnect(entry.client));
    }
    return Promise.all(closing).then(() => undefined);
  }

  /** Closes every client. */
  close(): Promise<void> {
    return this.retain(new Set());
  }

  /** Disconnects without reconnecting; resolves at `end` (bounded) when a socket was open. */
  private disconnect(client: BucketClient): Promise<void> {
    // Only an open or opening socket ends with an `end` event; a client waiting to reconnect just
    // has its timer cleared.
    const open = client.status === 'ready' || client.status === 'connect' || client.status === 'connecting';
    client.disconnect();
    if (!open) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 2 * this.opts.commandTimeoutMs);
      timer.unref();
      client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private create(address: string): RedisEntry {
    const { host, port } = parseAddress(address);
    const client = defineBucketScript(new Redis({
      host,
      port,
      enableOfflineQueue: false,
      commandTimeout: this.opts.commandTimeoutMs,
      connectTimeout: Math.max(1_000, this.opts.commandTimeoutMs),
      // After a timeout the connection is ended; a hung peer never finishes the close, so destroy
      // it after one more command timeout rather than ioredis's default 2 s.
      disconnectTimeout: this.opts.commandTimeoutMs,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: reconnectDelayMs,
    }));
    const entry: RedisEntry = { address, client, up: null, firstConnect: null, lastError: null, closing: false };
    entry.firstConnect = new Promise<boolean>((resolve) => {
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('close', onClose);
        entry.firstConnect = null;
        resolve(ok);
      };
      const onReady = () => settle(true);
      const onClose = () => settle(false);
      const timer = setTimeout(() => settle(false), this.opts.commandTimeoutMs);
      timer.unref();
      client.once('ready', onReady);
      client.once('close', onClose);
    });
    client.on('ready', () => this.mark(entry, true));
    client.on('close', () => this.mark(entry, false));
    // Without a listener ioredis prints every connection error; the state change is logged instead.
    client.on('error', (err: Error) => { entry.lastError = err.message; });
    this.entries.set(address, entry);
    return entry;
  }

  private mark(entry: RedisEntry, up: boolean): void {
    if (entry.closing || entry.up === up) return;
    const was = entry.up;
    entry.up = up;
    const { log } = this.opts;
    if (!up) {
      log.warn({ redis: entry.address, err: entry.lastError }, 'rate-limit Redis unreachable: global limits with failureMode open use per-replica buckets, closed ones answer 503, until it is back');
    } else if (was === false) {
      log.info({ redis: entry.address }, 'rate-limit Redis reachable again: global limits are shared again');
    } else {
      log.debug({ redis: entry.address }, 'rate-limit Redis connected');
    }
    this.opts.onState?.(entry.address, up);
  }
}

/** Splits `host:port`, `[v6addr]:port` or a bare host (port 6379). */
export function parseAddress(address: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 6379 };
  const colon = address.lastIndexOf(':');
  if (colon < 0) return { host: address, port: 6379 };
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}
