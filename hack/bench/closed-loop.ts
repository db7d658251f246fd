/**
 * Closed-loop load: `concurrency` clients, each sending its next request as soon as its previous
 * answer ends. Unlike the open loop this can't overload the server (the queue is at most
 * `concurrency` deep), so it measures the most a path can serve without the metastable
 * backlogs an overloaded open-loop run produces. It is for throughput only: its latencies
 * suffer from coordinated omission by construction.
 */
import { performance } from 'node:perf_hooks';
import { assertCompletion, classifyError, countErrors, makePool, noErrors, requestHeaders, timeline, type LoadConfig, type LoadResult } from './load-common';
import { summarize } from './stats';

/**
 * Runs `cfg.concurrency` clients for warm-up + duration seconds; `onMeasuring` is called when the
 * measured phase begins. Never rejects for request failures.
 */
export async function runClosedLoop(cfg: LoadConfig, onMeasuring: () => void = () => undefined): Promise<LoadResult> {
  const concurrency = cfg.concurrency ?? 1;
  const pool = makePool({ ...cfg, connections: Math.max(cfg.connections, concurrency) });
  const body = Buffer.from(cfg.body);
  const headers = requestHeaders(cfg);
  const errors = noErrors();
  let firstError: string | undefined;
  let checkedBody = false;
  let total = 0;
  let lastEnd = 0;
  let cpuAtStart: NodeJS.CpuUsage | null = null;
  // Measured requests, by start: offset from the measured start, latency (NaN if failed), failed flag.
  const offsets: number[] = [];
  const latencies: number[] = [];
  const failed: number[] = [];
  const start = performance.now();
  const measureFrom = start + cfg.warmupSec * 1000;
  const end = measureFrom + cfg.durationSec * 1000;

  const client = async (): Promise<void> => {
    // Bounded by time: each iteration waits for one answer (at most timeoutMs without progress)
    // and no new request starts after `end`.
    while (performance.now() < end) {
      const sentAt = performance.now();
      const measured = sentAt >= measureFrom;
      if (measured && cpuAtStart === null) {
        cpuAtStart = process.cpuUsage();
        onMeasuring();
      }
      total++;
      let latency = NaN;
      let bad = 0;
      try {
        const res = await pool.request({ method: 'POST', path: cfg.path, headers, body });
        const text = await res.body.text();
        const now = performance.now();
        if (res.statusCode !== 200) {
          bad = 1;
          if (measured) errors.status[res.statusCode] = (errors.status[res.statusCode] ?? 0) + 1;
        } else {
          if (!checkedBody) {
            checkedBody = true;
            assertCompletion(text);
          }
          latency = now - sentAt;
          if (measured && now > lastEnd) lastEnd = now;
        }
      } catch (err) {
        bad = 1;
        if (measured) firstError ??= classifyError(errors, err);
        // A refusing server answers instantly; don't spin on it.
        await new Promise((r) => setTimeout(r, 10));
      }
      if (measured) {
        offsets.push(sentAt - measureFrom);
        latencies.push(latency);
        failed.push(bad);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const endAt = performance.now();
  const cpu = process.cpuUsage(cpuAtStart ?? undefined);
  const connectionsUsed = pool.stats.connected;
  await pool.destroy().catch(() => undefined);

  const ok = latencies.filter((v) => !Number.isNaN(v));
  const errorCount = countErrors(errors);
  const spanSec = Math.max(cfg.durationSec, ((lastEnd || endAt) - measureFrom) / 1000);
  const summary = summarize(ok);
  return {
    rate: 0,
    concurrency,
    durationSec: cfg.durationSec,
    scheduled: offsets.length,
    scheduledTotal: total,
    ok: ok.length,
    errors,
    errorCount,
    achievedRate: ok.length / spanSec,
    successPct: offsets.length ? (100 * ok.length) / offsets.length : NaN,
    latencyMs: summary,
    serviceMs: summary,
    sendLagMs: summarize([]),
    peakOutstanding: concurrency,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    cpuTotalSec: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    elapsedSec: (endAt - measureFrom) / 1000,
    connectionsUsed,
    timeline: timeline(offsets, latencies, failed),
    ...(firstError ? { firstError } : {}),
  };
}
