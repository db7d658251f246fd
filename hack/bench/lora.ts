/**
 * LoRA mode: 16 adapters on 4 simulated vLLM pods that can each serve all of them but hold only
 * `maxLoras` (4) on the GPU at once, so every request for an adapter that is not resident on its
 * pod pays `loraLoadMs` (the whole batch stalls while it loads, as in vLLM) and may evict another.
 * Requests pick their adapter by Zipf popularity (P(rank k) ∝ 1/k^s, seeded) and arrive as a
 * Poisson process near saturation; each streams, so TTFT is measured by the client (first content
 * chunk). Each row is one scheduler configuration on a freshly started stack (same seed, so the
 * same arrivals, adapters and prompts), and reports TTFT and end-to-end p50/p99, completed req/s
 * and adapter loads per 1,000 requests (delta of the pods' `/sim/state` load counters).
 *
 * Rows:
 * - lora-affinity: Filter least-request (drop pods with > 10 waiting); Score lora-affinity ×2 +
 *   least-request ×1. Affinity is tiered (1 active, 0.5 free slot, 0 would evict), least-request is
 *   continuous in [0,1]; weight 2 makes one affinity tier (0.5 × 2) worth the whole least-request
 *   range, so load only breaks ties within a tier, and the filter stops a hot pod's queue growing.
 * - least-request: Score least-request alone, the baseline.
 * - static-partition (reference): each pod is its own ModelServer and serves 4 fixed adapters, the
 *   manual alternative to affinity: no adapter loads by construction, but no load balancing.
 *
 * Times are reported in simulated ms (client wall time × time scale), the unit of the profile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { mulberry32, poissonArrivals, randomWords } from './gsp-workload';
import { sleep, stopAll, waitUntil } from './processes';
import { BENCH_ADMIN_HEADERS, startStack, type Stack } from './stack';
import { round, summarize } from './stats';
import { readyPodYaml } from '../sim-pods';

/** Configurations this mode can run. */
export const LORA_ROWS = ['lora-affinity', 'least-request', 'static-partition'] as const;
export type LoraRowName = (typeof LORA_ROWS)[number];

/** Settings of a run. */
export interface LoraOptions {
  adapters: number;
  pods: number;
  maxLoras: number;
  /** Simulated ms to bring a non-resident adapter onto the GPU. */
  loraLoadMs: number;
  /** Zipf exponent of adapter popularity. */
  zipfS: number;
  /** Offered requests per simulated second, all pods together. */
  rate: number;
  timeScale: number;
  promptTokens: number;
  outputTokens: number;
  /** Wall seconds of unmeasured load before the window, and of the window itself. */
  warmupSec: number;
  durationSec: number;
  /** Wall ms a request may take (so also the most the run waits after the window); later ones are errors. */
  drainMs: number;
  /** Data-plane metrics scrape period, wall ms. */
  scrapeIntervalMs: number;
  rows: LoraRowName[];
  seed: number;
  progress: (line: string) => void;
}

/**
 * Defaults. 40 simulated req/s is below saturation of the least-request baseline: it completes
 * what is offered up to ~45 req/s, and at 60 completes ~51 with a growing backlog. What saturates
 * is the adapter slots, not compute: every pod sees all 16 adapters, a request whose adapter is not
 * resident waits until some resident adapter has no running sequence, and each load (100 ms,
 * a rank-16 7B adapter read from local disk and copied to the GPU, the simulator's default) stalls
 * the pod's whole batch. streamInterval 8 sends the first token alone and then 8 tokens per chunk:
 * TTFT stays exact while the two shared cores carry fewer chunks.
 */
export const DEFAULT_LORA: Omit<LoraOptions, 'progress'> = {
  adapters: 16, pods: 4, maxLoras: 4, loraLoadMs: 100, zipfS: 1.1, rate: 40, timeScale: 2,
  promptTokens: 200, outputTokens: 64, warmupSec: 10, durationSec: 30, drainMs: 20_000,
  scrapeIntervalMs: 50, rows: ['lora-affinity', 'least-request', 'static-partition'], seed: 7,
};

/** One row's outcome. Latencies in simulated ms. */
export interface LoraRow {
  row: LoraRowName;
  sent: number;
  completed: number;
  errors: number;
  completedRps: number;
  ttftP50: number;
  ttftP99: number;
  e2eP50: number;
  e2eP99: number;
  loads: number;
  loadsPer1k: number;
  evictions: number;
  /** Share of completed requests whose own admission paid a load. */
  paidLoadPct: number;
  /** Distinct adapters each pod served in the window, mean over pods. */
  adaptersPerPod: number;
  /** Adapters the data plane counted as active per pod (lora.active, mean) at the window's start. */
  activeSeenPerPod: number;
  /** Largest lag of the simulator's clock and whether it had to re-anchor (time scale not held). */
  simMaxLagWallMs: number;
  simResyncs: number;
}

/** The whole run. */
export interface LoraResult {
  settings: Omit<LoraOptions, 'progress'>;
  /** Each adapter's share of requests, most popular first (percent). */
  popularityPct: number[];
  rows: LoraRow[];
}

/** Adapter names, most popular first. */
export const adapterName = (rank: number): string => `adapter-${String(rank).padStart(2, '0')}`;

/** Zipf probabilities P(k) = k^-s / Σ_j j^-s for ranks k = 1..n. */
export function zipfWeights(n: number, s: number): number[] {
  const w = Array.from({ length: n }, (_, k) => (k + 1) ** -s);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** A seeded sampler of ranks 0..n-1 with Zipf(s) popularity (inverse CDF on a mulberry32 stream). */
export function zipfSampler(n: number, s: number, seed: number): () => number {
  const cdf: number[] = [];
  let acc = 0;
  for (const p of zipfWeights(n, s)) cdf.push((acc += p));
  const rand = mulberry32(seed);
  return () => {
    const u = rand() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Adapter ranks of each pod for the static partition: snake order, so each pod mixes hot and cold. */
export function staticPartition(adapters: number, pods: number): number[][] {
  const out = Array.from({ length: pods }, () => [] as number[]);
  for (let k = 0; k < adapters; k++) {
    const round = Math.floor(k / pods);
    const i = k % pods;
    out[round % 2 === 0 ? i : pods - 1 - i]!.push(k);
  }
  return out;
}

/** What the client learns from one streamed completion. */
export interface StreamOutcome {
  /** Wall ms from sending to the first chunk with text, and to the end of the stream. */
  ttftMs: number;
  e2eMs: number;
  /** The simulator's `sim` field of the last token chunk. */
  pod: string | null;
  loraLoadMs: number;
}

/**
 * Reads an SSE completion stream. The first event carrying non-empty `choices[0].text` fixes
 * TTFT; `sim` comes with the last token. Throws on an error event or a stream without text.
 */
export async function readStream(body: AsyncIterable<Buffer>, t0: number): Promise<StreamOutcome> {
  let ttft = -1;
  let pod: string | null = null;
  let loraLoadMs = 0;
  let buf = '';
  for await (const chunk of body) {
    buf += chunk.toString('utf8');
    let cut: number;
    // Bounded by the buffer: each pass removes one complete event.
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const j = JSON.parse(event.slice(6)) as { error?: { message: string }; choices?: { text?: string }[]; sim?: { pod: string; lora_load_ms: number } };
      if (j.error) throw new Error(`error event: ${j.error.message}`);
      if (ttft < 0 && j.choices?.[0]?.text) ttft = performance.now() - t0;
      if (j.sim) {
        pod = j.sim.pod;
        loraLoadMs = j.sim.lora_load_ms;
      }
    }
  }
  if (ttft < 0) throw new Error('stream ended without content');
  return { ttftMs: ttft, e2eMs: performance.now() - t0, pod, loraLoadMs };
}

const NS = 'default';
const PORT = 8000;
const BASE = 'base-7b';
const podName = (i: number): string => `lora-${i}`;
/** Pod IPs in 127.33.1.0/24 (subnet 33 is this feature's; test/lora.test.ts uses 127.33.0.0/24). */
const podIp = (i: number): string => `127.33.1.${1 + i}`;

/** The router ConfigMap of a row (the static partition runs the built-in default). */
export function routerConfig(row: LoraRowName): string {
  const plugins = row === 'lora-affinity'
    ? `    plugins:
      Filter:
        enabled:
        - least-request
      Score:
        enabled:
        - name: lora-affinity
          weight: 2
        - name: least-request
          weight: 1`
    : `    plugins:
      Score:
        enabled:
        - name: least-request
          weight: 1`;
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: sluice-router-config, namespace: ${NS}}
data:
  schedulerConfiguration: |-
${plugins}
`;
}

const server = (name: string, label: string): string => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: ${name}, namespace: ${NS}}
spec:
  workloadSelector: {matchLabels: {${label}}}
  workloadPort: {port: ${PORT}}
  model: ${BASE}
  inferenceEngine: vLLM
`;

/** A route per group of adapters (a ModelRoute lists at most 10). */
const route = (name: string, adapters: string[], target: string, modelName: boolean): string => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: ${name}, namespace: ${NS}}
spec:
${modelName ? `  modelName: ${BASE}\n` : ''}  loraAdapters: [${adapters.join(', ')}]
  rules:
  - targetModels: [{modelServerName: ${target}}]
`;

/** Routes, servers, pods and router configuration of a row. */
export function rowObjects(row: LoraRowName, o: Pick<LoraOptions, 'adapters' | 'pods'>): string {
  const names = Array.from({ length: o.adapters }, (_, k) => adapterName(k));
  const docs: string[] = [];
  for (let i = 0; i < o.pods; i++) {
    docs.push(readyPodYaml(podName(i), { app: 'lora', slot: `s${i}` }, podIp(i), { namespace: NS }));
  }
  if (row === 'static-partition') {
    staticPartition(o.adapters, o.pods).forEach((ranks, i) => {
      docs.push(server(`lora-s${i}`, `slot: "s${i}"`));
      docs.push(route(`lora-s${i}`, ranks.map(adapterName), `lora-s${i}`, false));
    });
  } else {
    docs.push(server('lora', 'app: lora'));
    for (let g = 0; g * 8 < names.length; g++) docs.push(route(`lora-${g}`, names.slice(g * 8, g * 8 + 8), 'lora', g === 0));
    docs.push(routerConfig(row));
  }
  return docs.join('---\n');
}

interface SimState { loras: { loads: number; evictions: number }; clock: { maxLagWallMs: number; resyncs: number } }

async function simStates(n: number): Promise<SimState[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => (await (await request(`http://${podIp(i)}:${PORT}/sim/state`)).body.json()) as SimState));
}

async function adminJson<T>(url: string): Promise<T> {
  return (await (await request(url, { headers: BENCH_ADMIN_HEADERS })).body.json()) as T;
}

/** Waits until the row's configuration is live and every pod has been scraped with its LoRA state. */
async function waitReady(stack: Stack, row: LoraRowName, o: LoraOptions): Promise<void> {
  const admin = stack.dataplanes[0]!.adminUrl;
  if (row !== 'static-partition') {
    await waitUntil(`${row} scheduler configuration applied`, async () => {
      const d = await adminJson<{ servers: Record<string, string>; configs: Record<string, { plugins: { name: string }[] }> }>(`${admin}/debug/config_dump/scheduler`);
      const cfg = d.configs[d.servers[`${NS}/lora`] ?? ''];
      return !!cfg && cfg.plugins.some((p) => p.name === 'lora-affinity') === (row === 'lora-affinity');
    }, 20_000);
  }
  await waitUntil('every pod scraped with its LoRA state', async () => {
    const d = await adminJson<{ pods: { metrics: { stale: boolean; lora: unknown } }[] }>(`${admin}/debug/config_dump/pods`);
    return d.pods.length === o.pods && d.pods.every((p) => !p.metrics.stale && p.metrics.lora !== null);
  }, 20_000);
}

/** Runs every row. */
export async function runLora(o: LoraOptions): Promise<LoraResult> {
  const rows: LoraRow[] = [];
  for (const row of o.rows) rows.push(await runRow(row, o));
  const { progress: _p, ...settings } = o;
  return { settings, popularityPct: zipfWeights(o.adapters, o.zipfS).map((p) => round(100 * p, 1)), rows };
}

async function runRow(row: LoraRowName, o: LoraOptions): Promise<LoraRow> {
  const dir = mkdtempSync(join(tmpdir(), `sluice-bench-lora-${row}-`));
  const names = Array.from({ length: o.adapters }, (_, k) => adapterName(k));
  try {
    o.progress(`lora: ${row}: starting stack`);
    const stack = await startStack({
      dir, accessLogs: [false], dataplaneNodeArgs: [], objects: rowObjects(row, o),
      dataplaneArgs: ['--scrape-interval-ms', String(o.scrapeIntervalMs), '--connections-per-endpoint', '1024'],
      pods: Array.from({ length: o.pods }, (_, i) => ({ name: podName(i), ip: podIp(i), loras: names })),
      engine: { ip: podIp(0), port: PORT, model: BASE, timeScale: o.timeScale, profile: { maxLoras: o.maxLoras, loraLoadMs: o.loraLoadMs, streamInterval: 8 } },
    });
    await waitReady(stack, row, o);
    const pool = new Pool(stack.dataplanes[0]!.url, { connections: 4096 });
    const rand = mulberry32(o.seed);
    const pick = zipfSampler(o.adapters, o.zipfS, o.seed + 1);
    const send = async (adapter: string): Promise<StreamOutcome> => {
      const body = JSON.stringify({ model: adapter, prompt: randomWords(o.promptTokens, rand).slice(1), max_tokens: o.outputTokens, ignore_eos: true, stream: true });
      const t0 = performance.now();
      const res = await pool.request({ path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(o.drainMs) });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
      return readStream(res.body, t0);
    };
    // Every adapter once, unmeasured: a broken route fails the row before any load is sent.
    await Promise.all(names.map((a) => send(a)));

    const wallRate = o.rate * o.timeScale;
    const totalSec = o.warmupSec + o.durationSec;
    const arrivals = poissonArrivals(Math.ceil(wallRate * totalSec * 1.2), wallRate, o.seed);
    const t0 = performance.now() + 50;
    const measureFrom = t0 + o.warmupSec * 1000;
    const measureTo = t0 + totalSec * 1000;
    let before: Promise<SimState[]> | null = null;
    let activeSeen: Promise<number> | null = null;
    const ttft: number[] = [];
    const e2e: number[] = [];
    const podAdapters = new Map<string, Set<string>>();
    let sent = 0;
    let errors = 0;
    let completedInWindow = 0;
    let paidLoad = 0;
    let firstError = '';
    const inflight: Promise<void>[] = [];
    o.progress(`lora: ${row}: ${o.warmupSec} s warm-up, ${o.durationSec} s measured at ${o.rate} req/s simulated (${wallRate} wall)`);
    // Bounded by the arrivals array and the window's end.
    for (const at of arrivals) {
      const due = t0 + at * 1000;
      if (due >= measureTo) break;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const measured = due >= measureFrom;
      if (measured && before === null) {
        before = simStates(o.pods);
        activeSeen = adminJson<{ pods: { metrics: { lora: { active: string[] } | null } }[] }>(`${stack.dataplanes[0]!.adminUrl}/debug/config_dump/pods`)
          .then((d) => d.pods.reduce((n, p) => n + (p.metrics.lora?.active.length ?? 0), 0) / d.pods.length);
      }
      if (measured) sent++;
      const adapter = names[pick()]!;
      inflight.push(send(adapter).then((r) => {
        const end = performance.now();
        if (end >= measureFrom && end < measureTo) completedInWindow++;
        if (!measured) return;
        ttft.push(r.ttftMs * o.timeScale);
        e2e.push(r.e2eMs * o.timeScale);
        if (r.loraLoadMs > 0) paidLoad++;
        if (r.pod) (podAdapters.get(r.pod) ?? podAdapters.set(r.pod, new Set()).get(r.pod)!).add(adapter);
      }, (err: unknown) => {
        if (!measured) return;
        errors++;
        firstError ||= err instanceof Error ? err.message : String(err);
      }));
    }
    await Promise.all(inflight);
    const after = await simStates(o.pods);
    const start = await (before ?? Promise.resolve(after));
    const activeSeenPerPod = round((await activeSeen) ?? NaN, 1);
    await pool.close();
    await stack.stop();
    if (firstError) o.progress(`lora: ${row}: ${errors} errors, first: ${firstError}`);
    const loads = after.reduce((n, s, i) => n + s.loras.loads - start[i]!.loras.loads, 0);
    const t = summarize(ttft);
    const e = summarize(e2e);
    const result: LoraRow = {
      row, sent, completed: ttft.length, errors,
      completedRps: round(completedInWindow / (o.durationSec * o.timeScale), 1),
      ttftP50: round(t.p50, 0), ttftP99: round(t.p99, 0), e2eP50: round(e.p50, 0), e2eP99: round(e.p99, 0),
      loads, loadsPer1k: round((1000 * loads) / Math.max(1, sent), 1),
      evictions: after.reduce((n, s, i) => n + s.loras.evictions - start[i]!.loras.evictions, 0),
      paidLoadPct: round((100 * paidLoad) / Math.max(1, ttft.length), 1),
      activeSeenPerPod,
      adaptersPerPod: round([...podAdapters.values()].reduce((n, s) => n + s.size, 0) / o.pods, 1),
      simMaxLagWallMs: round(Math.max(...after.map((s) => s.clock.maxLagWallMs)), 1),
      simResyncs: after.reduce((n, s) => n + s.clock.resyncs, 0),
    };
    o.progress(`lora: ${row}: TTFT p50 ${result.ttftP50} ms p99 ${result.ttftP99} ms, ${result.loadsPer1k} loads/1k, ${result.completedRps} req/s`);
    return result;
  } finally {
    await stopAll();
    if (!process.env.SLUICE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    else o.progress(`lora: kept ${dir}`);
  }
}

const ROW_TITLE: Record<LoraRowName, string> = {
  'lora-affinity': 'lora-affinity ×2 + least-request ×1 (Filter least-request)',
  'least-request': 'least-request alone (baseline)',
  'static-partition': 'static partition, 4 adapters per pod (reference)',
};

/** Markdown tables of a run. */
export function loraMarkdown(r: LoraResult): string {
  const s = r.settings;
  const out = [
    `${s.adapters} LoRA adapters on ${s.pods} simulated vLLM pods (each registers all ${s.adapters}; maxLoras ${s.maxLoras}, loraLoadMs ${s.loraLoadMs} simulated, other profile fields default, streamInterval 8), time scale ${s.timeScale}.`,
    `Zipf s=${s.zipfS} popularity (top adapter ${r.popularityPct[0]}% of requests, last ${r.popularityPct[r.popularityPct.length - 1]}%), Poisson arrivals at ${s.rate} req/s simulated, ${s.promptTokens}-token prompts, ${s.outputTokens} output tokens, streamed; ${s.warmupSec} s warm-up then ${s.durationSec} s measured (wall), seed ${s.seed}. Times in simulated ms (client wall × ${s.timeScale}).`,
    '',
    '| configuration | TTFT p50 | TTFT p99 | e2e p50 | e2e p99 | completed req/s | adapter loads / 1k req | requests that paid a load | adapters served per pod | adapters active per pod (data plane) | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of r.rows) {
    out.push(`| ${ROW_TITLE[x.row]} | ${x.ttftP50} ms | ${x.ttftP99} ms | ${x.e2eP50} ms | ${x.e2eP99} ms | ${x.completedRps} | ${x.loadsPer1k} | ${x.paidLoadPct}% | ${x.adaptersPerPod} | ${x.activeSeenPerPod} | ${x.errors}/${x.sent} |`);
  }
  const lag = r.rows.filter((x) => x.simResyncs > 0);
  out.push('', lag.length ? `Warning: the simulator's clock re-anchored during ${lag.map((x) => x.row).join(', ')}; the machine did not keep up with the time scale.` : `Simulator clock held the time scale in every row (largest lag ${Math.max(...r.rows.map((x) => x.simMaxLagWallMs))} wall ms, no re-anchoring).`);
  return out.join('\n');
}
