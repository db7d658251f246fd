/**
 * Child processes for the benchmark: the engine simulator, data planes and the operator, each a
 * separate `node dist/...` process like in production, plus CPU accounting read from /proc.
 *
 * Output goes to a log file rather than a pipe. A data plane writes one access-log line per
 * request with synchronous writes to stdout; a pipe the benchmark had to drain would put the
 * benchmark's own CPU (and pipe back-pressure) on the measured path, while a file is what a
 * container runtime gives the process in a cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The dist/ folder the benchmark runs from (this file lives in dist/hack/bench). */
export const DIST = resolve(__dirname, '..', '..');

/** A started child process whose output is in `logFile`. */
export interface BenchProc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Log text so far (for error messages and the ready line). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

const running = new Set<BenchProc>();

/**
 * Spawns `node dist/<script> ...args` with stdout and stderr appended to `<dir>/<name>.log` and
 * resolves once `ready` matches the log, or rejects after `timeoutMs` or an early exit. `env` is
 * added to this process's environment (e.g. NODE_EXTRA_CA_CERTS, read only at a process's start).
 */
export async function startNode(name: string, script: string, args: string[], dir: string, ready: RegExp, nodeArgs: string[] = [], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<{ proc: BenchProc; match: RegExpMatchArray }> {
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, join(DIST, script), ...args], { stdio: ['ignore', fd, fd], cwd: dir, env: { ...process.env, ...env } });
  closeSync(fd); // the child has its own copy
  const output = (): string => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
  const proc: BenchProc = {
    name,
    child,
    logFile,
    output,
    stop: () => new Promise<void>((res) => {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return res();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => { clearTimeout(kill); res(); });
      child.kill('SIGTERM');
    }),
  };
  running.add(proc);
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline; polls the file because the output is not a pipe.
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready; log ${logFile}:\n${output().slice(-2000)}`);
    }
    const m = output().match(ready);
    if (m) return { proc, match: m };
    await sleep(25);
  }
  await proc.stop();
  throw new Error(`${name} not ready within ${timeoutMs} ms; log ${logFile}:\n${output().slice(-2000)}`);
}

/** Stops every process started by startNode that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
}

/** Promise-based sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux the benchmark targets). */
const HZ = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN where /proc
 * is not available, so reports show "–" instead of a made-up zero.
 */
export function processCpuSec(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after its closing paren are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / HZ; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** CPU seconds (non-idle) the whole machine has used so far, from /proc/stat; NaN without /proc. */
export function machineCpuSec(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / HZ;
  } catch {
    return NaN;
  }
}

/**
 * Machine CPU seconds used so far, split into all non-idle time and the part spent in niced
 * processes (the `nice` column of /proc/stat); NaN without /proc. A background job at nice 19
 * gets almost no CPU while the benchmark's processes (nice 0) want it, so the split tells real
 * contention from a busy-but-yielding neighbour.
 */
export function machineCpuSplit(): { busy: number; nice: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: (user! + nice! + system! + irq! + softirq! + steal!) / HZ, nice: nice! / HZ };
  } catch {
    return { busy: NaN, nice: NaN };
  }
}
