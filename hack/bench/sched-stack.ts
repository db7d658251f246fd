/**
 * The stack of one scheduling row: the engine simulator (three vLLM pods publishing KV events),
 * N data-plane replicas and the directory-source operator pushing the same snapshot to each of
 * them, plus the checks run before load and the pods' counters read after it.
 *
 * N replicas stand for a Deployment behind a Kubernetes Service: each has its own metrics scrape,
 * in-flight counts and prefix index (or KV-event subscriptions), and sees only the requests the
 * Service sends it. Nothing is shared between them but the snapshot.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseSamples } from '../engine-sim/prom-lint';
import type { EngineProfile } from '../engine-sim/profile';
import { mulberry32, randomWords } from './gsp-workload';
import { SseParser } from './gsp-client';
import { startNode, waitUntil, type BenchProc } from './processes';
import { modelServerAnnotations, simPodKvEvents, simTokenizerOption, type SimTokenizer } from './sched-kv-events';
import { configMapYaml, rowSchedulerConfig, type SchedRow } from './sched-rows';
import { round } from './stats';

/** What a row's stack is built from (a subset of the scheduling options). */
export interface StackOptions {
  /** Loopback addresses of the pods. */
  podIps: string[];
  podPort: number;
  model: string;
  /** Data-plane replicas, all fed the same snapshot; the client spreads requests over them. */
  dataplanes: number;
  /** The simulator's tokenizer, also named to the router in the ModelServer annotations. */
  simTokenizer: SimTokenizer;
  /** Most requests in flight (sizes each data plane's per-pod connection pool). */
  concurrency: number;
  /** Data-plane metrics scrape period in simulated ms. */
  scrapeIntervalSimMs: number;
  /** Extra node flags for the simulator and the data planes (e.g. --cpu-prof). */
  simNodeArgs: string[];
  dataplaneNodeArgs: string[];
}

/** One pod's counters after a row (from its /metrics and /sim/state). */
export interface PodStats {
  pod: string;
  /** Requests it served (vllm:request_success_total). */
  served: number;
  /** vllm:prefix_cache_hits_total ÷ vllm:prefix_cache_queries_total, %. */
  hitRatePct: number;
  hits: number;
  queries: number;
  preemptions: number;
  /** Whether simulated time kept to wall × timeScale (see hack/engine-sim/sim-clock.ts). */
  clock: { steps: number; resyncs: number; lostWallMs: number; maxLagWallMs: number; meanLagWallMs: number };
  kvEvictions: number;
}

/** A running stack for one row. */
export interface RowStack {
  sim: BenchProc;
  dataplanes: BenchProc[];
  operator: BenchProc;
  /** Traffic origin of each data plane, in the order of `dataplanes`. */
  urls: string[];
  /** Admin origin of each data plane. */
  adminUrls: string[];
  stop(): Promise<void>;
}

const TOKEN = 'bench-token';
/** The debug dumps need the push (or a read) token. */
const ADMIN_HEADERS = { authorization: `Bearer ${TOKEN}` };

/** ModelRoute → ModelServer (annotated with where KV events come from) → the pods. */
export function schedulingObjectsYaml(o: Pick<StackOptions, 'podIps' | 'podPort' | 'model' | 'simTokenizer'>): string {
  const pods = o.podIps.map((ip, i) => `---
apiVersion: v1
kind: Pod
metadata:
  name: sim-${i}
  namespace: default
  labels:
    app: sim
status:
  phase: Running
  podIP: ${ip}
  conditions:
  - type: Ready
    status: "True"
`).join('');
  // JSON strings are valid YAML scalars and quote paths and numbers alike.
  const annotations = Object.entries(modelServerAnnotations(o.simTokenizer)).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: bench
  namespace: default
spec:
  modelName: "${o.model}"
  rules:
  - name: default
    targetModels:
    - modelServerName: bench
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: bench
  namespace: default
  annotations:
${annotations}
spec:
  workloadSelector:
    matchLabels:
      app: sim
  workloadPort:
    port: ${o.podPort}
  model: "${o.model}"
  inferenceEngine: vLLM
${pods}`;
}

/** The simulator's config file: every pod publishes KV events; one tokenizer for all. */
export function simConfigJson(o: Pick<StackOptions, 'podIps' | 'podPort' | 'model' | 'simTokenizer'>, timeScale: number, profile: Partial<EngineProfile>): string {
  return JSON.stringify({
    pods: o.podIps.map((ip, i) => ({ name: `sim-${i}`, ip, port: o.podPort, model: o.model, engine: 'vllm', kvEvents: simPodKvEvents() })),
    timeScale,
    profile,
    ...simTokenizerOption(o.simTokenizer),
  }, null, 2);
}

/** GET a JSON document; throws with the body on any status but 200. */
export async function getJson(url: string, headers?: Record<string, string>): Promise<unknown> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function getText(url: string): Promise<string> {
  const res = await request(url);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
  return text;
}

/**
 * Starts the simulator, `o.dataplanes` data planes and the operator (pushing to all of them) with
 * the row's ConfigMap, and waits until every data plane holds a snapshot. Stops what it started
 * if any step fails.
 */
export async function startRowStack(o: StackOptions, dir: string, row: SchedRow, timeScale: number, profile: Partial<EngineProfile>): Promise<RowStack> {
  const started: BenchProc[] = [];
  const stop = async (): Promise<void> => { await Promise.all(started.map((p) => p.stop())); };
  try {
    const objects = join(dir, 'objects');
    mkdirSync(objects, { recursive: true });
    writeFileSync(join(objects, 'bench.yaml'), schedulingObjectsYaml(o));
    writeFileSync(join(objects, 'router-config.yaml'), configMapYaml(row));
    const simConfig = join(dir, 'sim.json');
    writeFileSync(simConfig, simConfigJson(o, timeScale, profile));
    // Loading a real tokenizer.json (~11 MB for Qwen3) takes the simulator a few seconds.
    const { proc: sim } = await startNode('engine-sim', 'hack/engine-sim/main.js', ['--config', simConfig], dir, /engine-sim ready/, o.simNodeArgs, 60_000);
    started.push(sim);
    const scrapeMs = Math.max(1, Math.round(o.scrapeIntervalSimMs / timeScale));
    const dpArgs = [
      '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--push-token', TOKEN,
      '--scrape-interval-ms', String(scrapeMs), '--scrape-timeout-ms', String(Math.max(200, 2 * scrapeMs)),
      // 300 streams may all go to one pod under a herding scorer; the default 64 would queue them.
      '--connections-per-endpoint', String(o.concurrency + 64),
    ];
    const dps = await Promise.all(Array.from({ length: o.dataplanes }, async (_, i) => {
      const r = await startNode(o.dataplanes === 1 ? 'dataplane' : `dataplane-${i}`, 'dataplane/main.js', dpArgs, dir, /"trafficPort":(\d+),"adminPort":(\d+)/, o.dataplaneNodeArgs);
      started.push(r.proc);
      return r;
    }));
    const urls = dps.map((d) => `http://127.0.0.1:${d.match[1]}`);
    const adminUrls = dps.map((d) => `http://127.0.0.1:${d.match[2]}`);
    const { proc: operator } = await startNode('operator', 'operator/main.js', [
      '--watch-dir', objects, '--snapshot-out', join(dir, 'snapshot.json'), '--status-out', join(dir, 'status.json'),
      '--push-token', TOKEN, ...adminUrls.flatMap((u) => ['--push-url', u]),
    ], dir, /snapshot compiled/);
    started.push(operator);
    await Promise.all(adminUrls.map((adminUrl) => waitUntil(`a snapshot on data plane ${adminUrl} (operator log ${operator.logFile})`, async () => {
      const res = await request(`${adminUrl}/v1/snapshot`);
      await res.body.dump();
      return res.statusCode === 200;
    })));
    return { sim, dataplanes: dps.map((d) => d.proc), operator, urls, adminUrls, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Throws unless the data plane runs exactly the row's configuration for the benchmark's server. */
export async function checkSchedulerConfig(adminUrl: string, row: SchedRow): Promise<void> {
  const want = rowSchedulerConfig(row);
  const dump = (await getJson(`${adminUrl}/debug/config_dump/scheduler`, ADMIN_HEADERS)) as { configs: Record<string, { plugins: unknown; profiles: unknown; source: string }>; servers: Record<string, string> };
  const key = dump.servers['default/bench'];
  const got = key !== undefined ? dump.configs[key] : undefined;
  const same = got && got.source === 'kthena' && JSON.stringify(got.plugins) === JSON.stringify(want.plugins) && JSON.stringify(got.profiles) === JSON.stringify(want.profiles);
  if (!same) throw new Error(`data plane ${adminUrl} does not run row ${row.name}'s configuration: want ${JSON.stringify({ plugins: want.plugins, profiles: want.profiles })}, got ${JSON.stringify(got ?? dump)}`);
}

/** Waits until the data plane has fresh metrics for all pods (metric scorers are live). */
export async function waitForFreshMetrics(adminUrl: string, pods: number): Promise<void> {
  await waitUntil(`fresh metrics of ${pods} pods on ${adminUrl}`, async () => {
    const d = (await getJson(`${adminUrl}/debug/config_dump/pods`, ADMIN_HEADERS)) as { pods: { metrics: { stale: boolean } }[] };
    return d.pods.length === pods && d.pods.every((p) => !p.metrics.stale);
  }, 15_000);
}

/**
 * A few streamed requests with prompts unrelated to the workload, spread over the data planes:
 * proves every path and warms the JIT.
 */
export async function warmUp(urls: string[], model: string, n: number): Promise<void> {
  const rand = mulberry32(0x5eed);
  const prompts = Array.from({ length: n }, () => randomWords(300, rand));
  await Promise.all(prompts.map(async (prompt, i) => {
    const body = JSON.stringify({ model, prompt, max_tokens: 8, ignore_eos: true, stream: true });
    const res = await request(`${urls[i % urls.length]!}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`warm-up request answered ${res.statusCode}: ${text.slice(0, 300)}`);
    const events = new SseParser().push(text);
    if (events.at(-1) !== '[DONE]') throw new Error(`warm-up stream did not end with [DONE]: ${text.slice(-300)}`);
  }));
}

/**
 * One streamed request straight to each pod (not through a data plane), so every engine has
 * published at least one KV-event batch before load: a subscription counts as live only after
 * its first batch, and until then the precise scorer falls back. Done in every row, so rows
 * differ only in the scheduler.
 */
export async function primePods(o: Pick<StackOptions, 'podIps' | 'podPort' | 'model'>): Promise<void> {
  const rand = mulberry32(0xbeef);
  await Promise.all(o.podIps.map(async (ip) => {
    const body = JSON.stringify({ model: o.model, prompt: randomWords(200, rand), max_tokens: 2, ignore_eos: true });
    const res = await request(`http://${ip}:${o.podPort}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`priming pod ${ip} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  }));
}

/** One KV-event subscription as a data plane's /debug/config_dump/kvevents shows it. */
export interface KvSubscription {
  address: string;
  state: string;
  counters: Record<string, number>;
}

/** Every object in `v` that looks like a subscription (has `address` and `state`), at any depth. */
function findSubscriptions(v: unknown, out: KvSubscription[] = []): KvSubscription[] {
  if (Array.isArray(v)) for (const x of v) findSubscriptions(x, out);
  else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.address === 'string' && typeof o.state === 'string') out.push({ address: o.address, state: o.state, counters: (o.counters ?? {}) as Record<string, number> });
    else for (const x of Object.values(o)) findSubscriptions(x, out);
  }
  return out;
}

/** The data plane's KV-event subscriptions. */
export async function kvSubscriptions(adminUrl: string): Promise<KvSubscription[]> {
  return findSubscriptions(await getJson(`${adminUrl}/debug/config_dump/kvevents`, ADMIN_HEADERS));
}

/** Waits until the data plane follows the KV events of all `pods` pods live. */
export async function waitForLiveKvEvents(adminUrl: string, pods: number, timeoutMs = 15_000): Promise<void> {
  let last: KvSubscription[] = [];
  try {
    await waitUntil(`live KV-event subscriptions to ${pods} pods on ${adminUrl}`, async () => {
      last = await kvSubscriptions(adminUrl);
      return last.length === pods && last.every((x) => x.state === 'live');
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; subscriptions: ${JSON.stringify(last.map((x) => ({ address: x.address, state: x.state })))}`);
  }
}

/** Reads every pod's counters. */
export async function podStats(o: Pick<StackOptions, 'podIps' | 'podPort'>): Promise<PodStats[]> {
  return Promise.all(o.podIps.map(async (ip, i) => {
    const base = `http://${ip}:${o.podPort}`;
    const samples = parseSamples(await getText(`${base}/metrics`));
    const sum = (name: string): number => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
    const state = (await getJson(`${base}/sim/state`)) as { clock: PodStats['clock']; counters: { kvEvictions: number } };
    const hits = sum('vllm:prefix_cache_hits_total');
    const queries = sum('vllm:prefix_cache_queries_total');
    return {
      pod: `sim-${i}`, served: sum('vllm:request_success_total'), hits, queries, hitRatePct: round(queries ? (100 * hits) / queries : NaN, 1),
      preemptions: sum('vllm:num_preemptions_total'), clock: state.clock, kvEvictions: state.counters.kvEvictions,
    };
  }));
}
