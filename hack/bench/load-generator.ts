#!/usr/bin/env node
/**
 * Open-loop, fixed-rate HTTP load generator.
 *
 * Requests leave on a fixed schedule (request i is due at start + i/rate) whatever the answers
 * do, and each latency runs from the request's *scheduled* time to the end of its response
 * body. A closed-loop client that waits for answers before sending more would slow down
 * exactly when the server stalls and never record the requests it failed to send
 * ("coordinated omission"); timing from the schedule charges every stall to the server.
 * Latency from the actual send time (service time) and the generator's own lateness (send lag)
 * are reported too, so a generator starved of CPU is visible rather than silently blamed on
 * the server.
 *
 * With `concurrency` set in the config it runs the closed loop of closed-loop.ts instead, for
 * max-throughput measurements.
 *
 * It runs in its own process (`node dist/hack/bench/load-generator.js '<LoadConfig json>'`
 * prints one LoadResult JSON line) so its CPU use doesn't steal event-loop time from the
 * process being measured; `runLoadInChild` does that from the orchestrator.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runClosedLoop } from './closed-loop';
import { assertCompletion, classifyError, countErrors, makePool, MEASURING_LINE, noErrors, requestHeaders, timeline, type LoadConfig, type LoadResult } from './load-common';
import { summarize } from './stats';

export type { LoadConfig, LoadResult } from './load-common';

/**
 * Send times in ms from the start: a warm-up whose rate ramps linearly from 10% to 100% of
 * `rate` over its first half and holds `rate` for its second half, then `rate × durationSec`
 * requests exactly 1/rate apart. The ramp matters: a cold generator (JIT, no connections)
 * starting at full rate sends its first few hundred requests late and in a burst, which a router
 * near its capacity needs over a second to drain, so the measured phase would start with a
 * stall that real, gradually arriving traffic wouldn't cause.
 */
export function schedule(rate: number, warmupSec: number, durationSec: number): Float64Array {
  const out: number[] = [];
  const rampMs = (warmupSec * 1000) / 2;
  const warmMs = warmupSec * 1000;
  // Bounded: t grows by at least 1000/rate ms per step and stops at warmMs.
  for (let t = 0; t < warmMs; ) {
    out.push(t);
    const fraction = rampMs > 0 && t < rampMs ? 0.1 + (0.9 * t) / rampMs : 1;
    t += 1000 / (rate * fraction);
  }
  const measured = Math.round(rate * durationSec);
  for (let j = 0; j < measured; j++) out.push(warmMs + (j * 1000) / rate);
  return Float64Array.from(out);
}

/**
 * Runs one open-loop schedule in this process; `onMeasuring` is called when the measured phase
 * begins. Never rejects for request failures: they are counted.
 */
export async function runLoad(cfg: LoadConfig, onMeasuring: () => void = () => undefined): Promise<LoadResult> {
  const pool = makePool(cfg);
  const body = Buffer.from(cfg.body);
  const headers = requestHeaders(cfg);
  const due = schedule(cfg.rate, cfg.warmupSec, cfg.durationSec);
  const measured = Math.round(cfg.rate * cfg.durationSec);
  const total = due.length;
  const warm = total - measured;
  const latency = new Float64Array(measured).fill(NaN);
  const service = new Float64Array(measured).fill(NaN);
  const lag = new Float64Array(measured).fill(NaN);
  const failedAt = new Uint8Array(measured);
  const errors = noErrors();
  let firstError: string | undefined;
  let outstanding = 0;
  let peak = 0;
  let finished = 0;
  let abandoned = false;
  let lastEnd = 0;
  let checkedBody = false;
  let cpuAtStart: NodeJS.CpuUsage | null = null;
  let onAllDone: () => void = () => undefined;
  const allDone = new Promise<void>((r) => { onAllDone = r; });
  const t0 = performance.now() + 20; // a little slack so the first requests aren't born late
  for (let i = 0; i < total; i++) due[i]! += t0;
  const measuredStart = warm < total ? due[warm]! : t0;

  const settle = (): void => {
    outstanding--;
    if (++finished === total) onAllDone();
  };

  const send = async (i: number, dueAt: number): Promise<void> => {
    const m = i - warm; // index in the measured arrays, < 0 during warm-up
    const sentAt = performance.now();
    if (m >= 0) lag[m] = sentAt - dueAt;
    try {
      const res = await pool.request({ method: 'POST', path: cfg.path, headers, body });
      const text = await res.body.text();
      const end = performance.now();
      if (abandoned || m < 0) return;
      if (res.statusCode !== 200) {
        failedAt[m] = 1;
        errors.status[res.statusCode] = (errors.status[res.statusCode] ?? 0) + 1;
        return;
      }
      if (!checkedBody) {
        checkedBody = true;
        assertCompletion(text);
      }
      latency[m] = end - dueAt;
      service[m] = end - sentAt;
      if (end > lastEnd) lastEnd = end;
    } catch (err) {
      if (abandoned || m < 0) return;
      failedAt[m] = 1;
      const what = classifyError(errors, err);
      firstError ??= what;
    } finally {
      settle();
    }
  };

  const fire = (i: number): void => {
    if (i === warm) {
      cpuAtStart = process.cpuUsage();
      onMeasuring();
    }
    if (outstanding >= cfg.maxOutstanding) {
      // Open loop: we can't wait for a slot without shifting the schedule, so the request is
      // dropped and counted against the server.
      if (i >= warm) {
        errors.overload++;
        failedAt[i - warm] = 1;
      }
      outstanding++;
      settle();
      return;
    }
    outstanding++;
    if (outstanding > peak) peak = outstanding;
    void send(i, due[i]!);
  };

  let next = 0;
  const tick = (): void => {
    const now = performance.now();
    // Bounded by `total`: every iteration consumes one scheduled request. When the event loop
    // was late, all overdue requests go out at once, as they would from independent clients.
    while (next < total && due[next]! <= now) fire(next++);
    // Node rounds sub-millisecond timers up to 1 ms; lateness shows up in sendLagMs.
    if (next < total) setTimeout(tick, Math.max(0, due[next]! - performance.now()));
  };
  setTimeout(tick, Math.max(0, t0 - performance.now()));

  // Drain: wait for every answer, but never longer than the schedule plus one timeout.
  const deadlineMs = (total ? due[total - 1]! : t0) + cfg.timeoutMs + 1_000 - performance.now();
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([allDone, new Promise<void>((r) => { drainTimer = setTimeout(r, deadlineMs); })]);
  clearTimeout(drainTimer);
  const endAt = performance.now();
  const connectionsUsed = pool.stats.connected;
  const cpu = process.cpuUsage(cpuAtStart ?? undefined);
  abandoned = true; // answers arriving from here on are ignored
  await pool.destroy().catch(() => undefined);

  const ok = latency.reduce((a, v) => (Number.isNaN(v) ? a : a + 1), 0);
  // Measured requests neither answered nor failed by the drain deadline count as timeouts.
  errors.timeout += Math.max(0, measured - ok - countErrors(errors));
  const errorCount = countErrors(errors);
  const spanSec = Math.max(cfg.durationSec, ((lastEnd || endAt) - measuredStart) / 1000);
  const offsets = new Float64Array(measured);
  for (let j = 0; j < measured; j++) offsets[j] = due[warm + j]! - measuredStart;
  return {
    rate: cfg.rate,
    concurrency: 0,
    durationSec: cfg.durationSec,
    scheduled: measured,
    scheduledTotal: total,
    ok,
    errors,
    errorCount,
    achievedRate: ok / spanSec,
    successPct: measured ? (100 * ok) / measured : NaN,
    latencyMs: summarize(latency.filter((v) => !Number.isNaN(v))),
    serviceMs: summarize(service.filter((v) => !Number.isNaN(v))),
    sendLagMs: summarize(lag.filter((v) => !Number.isNaN(v))),
    peakOutstanding: peak,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    cpuTotalSec: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    elapsedSec: (endAt - measuredStart) / 1000,
    connectionsUsed,
    timeline: timeline(offsets, latency, failedAt),
    ...(firstError ? { firstError } : {}),
  };
}

/**
 * Runs `cfg` in a child process (`node load-generator.js <json>`) and returns its result;
 * `onMeasuring` is called when the child reports that its measured phase began. The child is
 * killed if it overruns its own worst case by 15 s, so a wedged run can't hang the benchmark.
 */
export function runLoadInChild(cfg: LoadConfig, onMeasuring: () => void = () => undefined): Promise<LoadResult> {
  const script = join(__dirname, 'load-generator.js');
  const limitMs = (cfg.warmupSec + cfg.durationSec) * 1000 + cfg.timeoutMs + 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let announced = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!announced && out.includes(MEASURING_LINE)) {
        announced = true;
        onMeasuring();
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(line) as LoadResult);
      } catch (e) {
        reject(new Error(`load generator failed (${(e as Error).message}); stderr:\n${err.slice(-2000)}`));
      }
    });
  });
}

if (require.main === module) {
  let cfg: LoadConfig;
  try {
    cfg = JSON.parse(process.argv[2] ?? '') as LoadConfig;
    if (!((cfg.rate > 0 || (cfg.concurrency ?? 0) > 0) && cfg.durationSec > 0 && cfg.warmupSec >= 0 && cfg.connections > 0 && cfg.maxOutstanding > 0 && cfg.timeoutMs > 0)) throw new Error('rate (or concurrency), durationSec, connections, maxOutstanding and timeoutMs must be positive');
  } catch (e) {
    process.stderr.write(`usage: load-generator.js '<LoadConfig json>': ${(e as Error).message}\n`);
    process.exit(2);
  }
  const announce = (): void => { process.stdout.write(`${MEASURING_LINE}\n`); };
  (cfg.concurrency ? runClosedLoop(cfg, announce) : runLoad(cfg, announce)).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`load generator: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
