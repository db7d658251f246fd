/**
 * Fairness mode: one heavy user offering 10× the requests of each of five light users, together
 * 3× what a queueing ModelServer can serve, first with the fairness queue's usage ordering
 * (the default weights) and then, in the same run, as plain FIFO (both token weights 0, so every
 * user's usage is 0 and the oldest request goes first). Reports each user's share of served
 * tokens, queue wait p50/p99 (from the data plane's access log) and Jain's fairness index over
 * served tokens: J = (Σx)² / (n·Σx²), 1 when all get the same.
 *
 * Every light user offers 0.2 × capacity, more than a fair sixth (0.167), so all six users stay
 * backlogged and the index is taken over all of them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { poissonArrivals } from './gsp-workload';
import { sleep, stopAll, waitUntil } from './processes';
import { BENCH_ADMIN_HEADERS, startStack } from './stack';
import { readyPodYaml } from '../sim-pods';
import { round, summarize } from './stats';

/** Settings of a fairness run. */
export interface FairnessOptions {
  /** Offered load as a multiple of the measured capacity. */
  overload: number;
  /** Measured seconds per phase (after warm-up). */
  durationSec: number;
  warmupSec: number;
  /** Output tokens per request. */
  maxTokens: number;
  progress: (line: string) => void;
}

/** Defaults: 3× capacity, 12 s measured after 3 s. */
export const DEFAULT_FAIRNESS: Omit<FairnessOptions, 'progress'> = { overload: 3, durationSec: 12, warmupSec: 3, maxTokens: 32 };

/** One user's outcome in one phase. */
export interface UserRow {
  user: string;
  offeredRps: number;
  servedRps: number;
  servedTokens: number;
  sharePct: number;
  timeouts: number;
  waitP50Ms: number;
  waitP99Ms: number;
}

/** One phase (fair or FIFO). */
export interface PhaseResult {
  phase: 'fair' | 'fifo';
  jain: number;
  users: UserRow[];
}

/** The whole run. */
export interface FairnessResult {
  capacityRps: number;
  settings: Omit<FairnessOptions, 'progress'>;
  phases: PhaseResult[];
}

const USERS = [{ user: 'heavy', weight: 10 }, ...[1, 2, 3, 4, 5].map((i) => ({ user: `light${i}`, weight: 1 }))];
const POD_IPS = ['127.0.0.71', '127.0.0.72'];

const routerConfig = (fifo: boolean) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: sluice-router-config
  namespace: default
data:
  routerConfiguration: |-
    identity:
      userHeader: x-user-id
    fairness:
      window: 60s
      inputTokenWeight: ${fifo ? 0 : 1}
      outputTokenWeight: ${fifo ? 0 : 1}
`;

const objects = `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: fair, namespace: default}
spec:
  modelName: m
  rules:
  - targetModels: [{modelServerName: fair}]
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: fair
  namespace: default
  annotations:
    inference.networking.x-k8s.io/queueing: "enabled"
    inference-epp-env.networking.x-k8s.io/queue-ttl: "5s"
    sluice.dev/max-in-flight-per-endpoint: "4"
spec:
  workloadSelector: {matchLabels: {app: fair}}
  workloadPort: {port: 8000}
  model: m
  inferenceEngine: vLLM
${POD_IPS.map((ip, i) => `---\n${readyPodYaml(`fair-${i}`, { app: 'fair' }, ip)}`).join('')}`;

const jain = (xs: number[]) => xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0) || 1);

/** Runs both phases. */
export async function runFairness(o: FairnessOptions): Promise<FairnessResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-fair-'));
  try {
    const stack = await startStack({
      dir, accessLogs: [true], dataplaneNodeArgs: [], objects, pods: POD_IPS.map((ip, i) => ({ name: `fair-${i}`, ip })),
      engine: { ip: POD_IPS[0]!, port: 8000, model: 'm', timeScale: 10, profile: {} },
    });
    const dp = stack.dataplanes[0]!;
    const objectsDir = join(dir, 'objects');
    // One client per user, as users are separate clients: a shared pool would queue the light
    // users' requests behind the heavy user's inside the client, before Sluice ever saw them.
    const pools = new Map(['calibrate', ...USERS.map((u) => u.user)].map((u) => [u, new Pool(dp.url, { connections: u === 'heavy' ? 2048 : 256 })]));
    const body = (user: string) => JSON.stringify({ model: 'm', prompt: `a question from ${user} about fair queues`, max_tokens: o.maxTokens, ignore_eos: true });
    const send = async (user: string): Promise<{ ok: boolean; tokens: number; code?: string }> => {
      const res = await pools.get(user)!.request({ path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': user }, body: body(user) });
      const json = (await res.body.json()) as { usage?: { prompt_tokens: number; completion_tokens: number }; error?: { code: string } };
      return res.statusCode === 200 ? { ok: true, tokens: json.usage!.prompt_tokens + json.usage!.completion_tokens } : { ok: false, tokens: 0, code: json.error?.code };
    };

    // Capacity: closed loop, twice as many clients as slots, for 3 s.
    o.progress('fairness: measuring capacity');
    let served = 0;
    const capStart = performance.now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() - capStart < 3000) if ((await send('calibrate')).ok) served++;
    }));
    const capacityRps = served / ((performance.now() - capStart) / 1000);
    o.progress(`fairness: capacity ${capacityRps.toFixed(1)} req/s`);

    const phases: PhaseResult[] = [];
    for (const phase of ['fair', 'fifo'] as const) {
      writeFileSync(join(objectsDir, 'router.yaml'), routerConfig(phase === 'fifo'));
      await waitUntil(`${phase} router configuration applied`, async () => {
        const res = await request(`${dp.adminUrl}/debug/config_dump/queues`, { headers: BENCH_ADMIN_HEADERS });
        const j = (await res.body.json()) as { fairness: { inputTokenWeight: number } | null; queues: Record<string, { queued: number }> };
        return j.fairness !== null && (j.fairness.inputTokenWeight === 0) === (phase === 'fifo') && Object.values(j.queues).every((q) => q.queued === 0);
      }, 20_000);
      phases.push(await runPhase(phase, capacityRps, o, send, dp.proc.logFile));
    }
    await Promise.all([...pools.values()].map((p) => p.close()));
    await stack.stop();
    return { capacityRps: round(capacityRps, 1), settings: { overload: o.overload, durationSec: o.durationSec, warmupSec: o.warmupSec, maxTokens: o.maxTokens }, phases };
  } finally {
    await stopAll();
    if (!process.env.SLUICE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    else o.progress(`fairness: kept ${dir}`);
  }
}

async function runPhase(phase: 'fair' | 'fifo', capacity: number, o: FairnessOptions, send: (user: string) => Promise<{ ok: boolean; tokens: number; code?: string }>, logFile: string): Promise<PhaseResult> {
  o.progress(`fairness: phase ${phase}`);
  const logStart = readFileSync(logFile, 'utf8').length;
  const totalSec = o.warmupSec + o.durationSec;
  const unit = (o.overload * capacity) / USERS.reduce((n, u) => n + u.weight, 0);
  const t0 = performance.now() + 100;
  const measureFrom = t0 + o.warmupSec * 1000;
  const measureTo = t0 + totalSec * 1000;
  const tokens = new Map<string, number>();
  const okCount = new Map<string, number>();
  const timeouts = new Map<string, number>();
  const inflight: Promise<void>[] = [];
  for (const [k, u] of USERS.entries()) {
    const rate = unit * u.weight;
    const arrivals = poissonArrivals(Math.ceil(rate * totalSec * 1.2), rate, 1000 + k);
    inflight.push((async () => {
      const mine: Promise<void>[] = [];
      // Bounded by the arrivals array and the phase's end.
      for (const at of arrivals) {
        const due = t0 + at * 1000;
        if (due >= measureTo) break;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        mine.push(send(u.user).then((r) => {
          const end = performance.now();
          if (!r.ok && due >= measureFrom) timeouts.set(u.user, (timeouts.get(u.user) ?? 0) + 1);
          if (r.ok && end >= measureFrom && end <= measureTo) {
            tokens.set(u.user, (tokens.get(u.user) ?? 0) + r.tokens);
            okCount.set(u.user, (okCount.get(u.user) ?? 0) + 1);
          }
        }, () => undefined));
      }
      await Promise.all(mine);
    })());
  }
  await Promise.all(inflight);
  // Queue waits of this phase's requests, from the access log.
  const waits = new Map<string, number[]>();
  for (const line of readFileSync(logFile, 'utf8').slice(logStart).split('\n')) {
    if (!line.includes('"msg":"access"')) continue;
    const rec = JSON.parse(line) as { user?: string; status: number; queueWaitMs?: number };
    if (rec.user && rec.status === 200) (waits.get(rec.user) ?? waits.set(rec.user, []).get(rec.user)!).push(rec.queueWaitMs ?? 0);
  }
  const totalTokens = [...tokens.values()].reduce((a, b) => a + b, 0) || 1;
  const users = USERS.map((u) => {
    const w = summarize(waits.get(u.user) ?? []);
    return {
      user: u.user,
      offeredRps: round(unit * u.weight, 1),
      servedRps: round((okCount.get(u.user) ?? 0) / o.durationSec, 1),
      servedTokens: tokens.get(u.user) ?? 0,
      sharePct: round((100 * (tokens.get(u.user) ?? 0)) / totalTokens, 1),
      timeouts: timeouts.get(u.user) ?? 0,
      waitP50Ms: round(w.p50, 0),
      waitP99Ms: round(w.p99, 0),
    };
  });
  return { phase, jain: round(jain(users.map((u) => u.servedTokens)), 3), users };
}

/** Markdown tables of a run. */
export function fairnessMarkdown(r: FairnessResult): string {
  const out = [`Capacity ${r.capacityRps} req/s (2 simulated pods × 4 in flight); offered ${r.settings.overload}× capacity for ${r.settings.durationSec} s after ${r.settings.warmupSec} s warm-up, ${r.settings.maxTokens} output tokens per request.`, ''];
  for (const p of r.phases) {
    out.push(`**${p.phase === 'fair' ? 'Fairness queue (usage order)' : 'FIFO (weights 0)'}**: Jain's index over served tokens ${p.jain}`, '');
    out.push('| user | offered req/s | served req/s | share of served tokens | refused (queue TTL/full) | queue wait p50 | queue wait p99 |', '|---|---|---|---|---|---|---|');
    for (const u of p.users) out.push(`| ${u.user} | ${u.offeredRps} | ${u.servedRps} | ${u.sharePct}% | ${u.timeouts} | ${u.waitP50Ms} ms | ${u.waitP99Ms} ms |`);
    out.push('');
  }
  return out.join('\n');
}
