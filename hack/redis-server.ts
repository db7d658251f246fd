/**
 * Starts a real `redis-server` (the Debian package's, on PATH; `REDIS_SERVER` overrides the
 * binary) on loopback for tests: no persistence, its own temporary folder, ready once it prints
 * "Ready to accept connections". `stop()` and `restart()` (same port) let a test take Redis away
 * and bring it back. Every wait has a deadline; nothing sleeps for a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running (or stopped, between stop and restart) Redis server. */
export interface RedisServer {
  /** `host:port`, as a ModelRoute's `rateLimit.global.redis.address`. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Everything the server printed so far, across restarts. */
  output(): string;
  /** The running server's process id (to SIGSTOP it: a hung Redis), null when stopped. */
  pid(): number | null;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same address, after stopping it if it still runs. */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

/** Options of startRedisServer. */
export interface RedisServerOptions {
  /** Loopback address to bind (default 127.0.0.1). */
  host?: string;
  /** Port; 0 or unset finds a free one. */
  port?: number;
  /** Deadline for "Ready to accept connections", ms (default 10 s). */
  readyTimeoutMs?: number;
}

/** Starts redis-server and resolves once it accepts connections. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || await freePort(host);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let out = '';
  let child: ChildProcess | null = null;

  const start = () => new Promise<void>((resolve, reject) => {
    const args = ['--save', '', '--appendonly', 'no', '--bind', host, '--port', String(port), '--dir', dir];
    const proc = spawn(process.env.REDIS_SERVER ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const startedAt = out.length;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`redis-server on ${host}:${port} not ready within ${readyTimeoutMs}ms; output:\n${out}`));
    }, readyTimeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.indexOf('Ready to accept connections', startedAt) >= 0) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.on('data', (more: Buffer) => { out += more.toString(); });
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    proc.once('error', (err) => {
      clearTimeout(timer);
      const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed? apt-get install redis-server, or set REDIS_SERVER to its path)' : '';
      reject(new Error(`cannot start redis-server: ${err.message}${hint}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      // After a successful start this is a no-op: a settled Promise ignores reject.
      reject(new Error(`redis-server exited (${code ?? signal}) before it was ready; output:\n${out}`));
    });
  });

  const stop = () => new Promise<void>((resolve) => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
    // A test may have paused it with SIGSTOP; a stopped process acts on SIGTERM only once continued.
    proc.kill('SIGCONT');
  });

  await start();
  return {
    address: `${host}:${port}`,
    host,
    port,
    output: () => out,
    pid: () => child?.pid ?? null,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      cleanup();
    },
  };
}

/** A port that was free on `host` a moment ago (bind port 0, read it, release it). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error(`no port from ${JSON.stringify(addr)}`))));
    });
  });
}
