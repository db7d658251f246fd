/**
 * Starts Sluice's real processes (built into dist/) for integration tests, on loopback, and
 * stops them afterwards. Every wait has a deadline; nothing sleeps for a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..');

/** A started child process with its output so far. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Proc>();

/**
 * Spawns `node dist/<script> ...args` and resolves once `ready` matches a line of its stdout.
 * `env` is added to this process's environment (jest's process.env is not the one children get).
 */
export function startNode(script: string, args: string[], ready: RegExp, timeoutMs = 20_000, env?: Record<string, string>): Promise<{ proc: Proc; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', script), ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let out = '';
  const proc: Proc = {
    child,
    output: () => out,
    stop: () => new Promise<void>((res) => {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
    }),
  };
  running.add(proc);
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready within ${timeoutMs}ms; output:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolveStart({ proc, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready; output:\n${out}`));
    });
  });
}

/** Stops every process a test file started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A temporary folder removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
