/**
 * The system under test for the benchmark: one simulated engine pod, one or two data planes
 * (access log on / off) and the directory-source operator pushing the same snapshot to each,
 * all as separate processes on loopback, started the way a cluster would run them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { LoadConfig } from './load-common';
import { startNode, waitUntil, type BenchProc } from './processes';

/** The engine the benchmark talks to. */
export interface EngineSettings {
  /** Loopback address of the simulated pod (a /8 address of its own, like a pod IP). */
  ip: string;
  port: number;
  /** Served model name; the route uses the same name so no body rewrite happens. */
  model: string;
  /** Simulated ms per wall ms. */
  timeScale: number;
  /** Engine profile overrides (see hack/engine-sim/profile.ts). */
  profile: Record<string, number>;
}

/**
 * Simulator settings that make the engine fast and nearly constant-latency, so the benchmark
 * measures the router and not the engine. With timeScale 1000 a 7B-like prefill of a few tokens
 * (10 ms overhead + 0.15 ms/token, simulated) is ~0.01 ms of wall time, below Node's 1 ms timer
 * floor: every scheduler step, and so every max_tokens=1 request, takes one timer tick (~1 ms),
 * plus up to one tick waiting for the step in progress. maxNumSeqs and the batch token budget are
 * raised so a step never leaves requests waiting for a later one at any rate we offer.
 */
export const DEFAULT_ENGINE: EngineSettings = {
  ip: '127.0.0.61',
  port: 8000,
  model: 'm',
  timeScale: 1000,
  profile: { maxNumSeqs: 2048, maxNumBatchedTokens: 65536 },
};

/** A running data plane. */
export interface DataplaneHandle {
  readonly proc: BenchProc;
  readonly url: string;
  readonly adminUrl: string;
  readonly accessLog: boolean;
}

/** Everything started, and how to stop it. */
export interface Stack {
  readonly engine: BenchProc;
  readonly engineUrl: string;
  readonly dataplanes: DataplaneHandle[];
  readonly operator: BenchProc;
  /** Stops every process of the stack. */
  stop(): Promise<void>;
}

/** What to start. */
export interface StackOptions {
  /** Working folder for objects, snapshot and logs. */
  dir: string;
  engine: EngineSettings;
  /** One data plane per entry: with or without the access log. */
  accessLogs: boolean[];
  /** Extra node flags for the data planes (e.g. --cpu-prof). */
  dataplaneNodeArgs: string[];
  /** Objects instead of objectsYaml(engine): routes, servers and Pods. */
  objects?: string;
  /**
   * Simulated pods (name and IP, all on the engine's port) instead of the one at engine.ip; `loras`
   * are the adapters a pod registers (the first profile.maxLoras of them start resident). `apiKey`
   * and `sslKeyfile`/`sslCertfile` are vLLM's --api-key and --ssl-* for that pod alone ('' = none).
   */
  pods?: { name: string; ip: string; loras?: string[]; apiKey?: string; sslKeyfile?: string; sslCertfile?: string }[];
  /** Extra data-plane flags (e.g. --scrape-interval-ms 200). */
  dataplaneArgs?: string[];
  /** Extra data-plane environment (e.g. NODE_EXTRA_CA_CERTS for a provider's private CA). */
  dataplaneEnv?: Record<string, string>;
}

const TOKEN = 'bench-token';

/** Headers for the data planes' debug dumps, which need the push (or a read) token. */
export const BENCH_ADMIN_HEADERS: Readonly<Record<string, string>> = { authorization: `Bearer ${TOKEN}` };

/** One ModelRoute → one ModelServer → one Pod, the smallest realistic routing configuration. */
export function objectsYaml(e: EngineSettings): string {
  return `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: bench
  namespace: default
spec:
  modelName: "${e.model}"
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
spec:
  workloadSelector:
    matchLabels:
      app: bench
  workloadPort:
    port: ${e.port}
  model: "${e.model}"
  inferenceEngine: vLLM
  trafficPolicy:
    timeout: 10s
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-0
  namespace: default
  labels:
    app: bench
status:
  phase: Running
  podIP: ${e.ip}
  conditions:
  - type: Ready
    status: "True"
`;
}

async function getStatus(url: string): Promise<number> {
  const res = await request(url);
  await res.body.dump();
  return res.statusCode;
}

/** Starts engine, data planes and operator, and waits until every data plane serves a snapshot. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const started: BenchProc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const e = opts.engine;
    const objects = join(opts.dir, 'objects');
    mkdirSync(objects, { recursive: true });
    writeFileSync(join(objects, 'bench.yaml'), opts.objects ?? objectsYaml(e));
    const simConfig = join(opts.dir, 'sim.json');
    const pods = (opts.pods ?? [{ name: 'bench-0', ip: e.ip }]).map((p) => ({ ...p, port: e.port, model: e.model, engine: 'vllm' }));
    writeFileSync(simConfig, JSON.stringify({ pods, timeScale: e.timeScale, profile: e.profile }, null, 2));
    const { proc: engine } = await startNode('engine-sim', 'hack/engine-sim/main.js', ['--config', simConfig], opts.dir, /engine-sim ready/);
    started.push(engine);

    const dataplanes: DataplaneHandle[] = [];
    for (const [i, accessLog] of opts.accessLogs.entries()) {
      const { proc, match } = await startNode(`dataplane-${i}-accesslog-${accessLog ? 'on' : 'off'}`, 'dataplane/main.js',
        ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--push-token', TOKEN, '--access-log', String(accessLog), ...(opts.dataplaneArgs ?? [])],
        opts.dir, /"trafficPort":(\d+),"adminPort":(\d+)/, opts.dataplaneNodeArgs, undefined, opts.dataplaneEnv);
      started.push(proc);
      dataplanes.push({ proc, url: `http://127.0.0.1:${match[1]}`, adminUrl: `http://127.0.0.1:${match[2]}`, accessLog });
    }

    const { proc: operator } = await startNode('operator', 'operator/main.js', [
      '--watch-dir', objects, '--snapshot-out', join(opts.dir, 'snapshot.json'), '--status-out', join(opts.dir, 'status.json'),
      '--push-token', TOKEN, ...dataplanes.flatMap((d) => ['--push-url', d.adminUrl]),
    ], opts.dir, /snapshot compiled/);
    started.push(operator);
    for (const d of dataplanes) {
      await waitUntil(`a snapshot on ${d.proc.name} (operator log ${operator.logFile})`, async () => (await getStatus(`${d.adminUrl}/v1/snapshot`)) === 200);
    }
    return { engine, engineUrl: `http://${e.ip}:${e.port}`, dataplanes, operator, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Sends one request and checks a completion from the benchmark's pod comes back, so a
 * misrouted or broken path fails loudly before any load is sent. `extra` adds headers and a CA
 * as the load generator would (load-common's LoadConfig).
 */
export async function checkPath(origin: string, path: string, body: string, pod: string, extra: Pick<LoadConfig, 'headers' | 'caFile'> = {}): Promise<void> {
  const dispatcher = extra.caFile ? new Agent({ connect: { ca: readFileSync(extra.caFile) } }) : undefined;
  const res = await request(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...extra.headers }, body, ...(dispatcher ? { dispatcher } : {}) });
  const text = await res.body.text();
  await dispatcher?.close();
  if (res.statusCode !== 200) throw new Error(`${origin}${path} answered ${res.statusCode}: ${text.slice(0, 500)}`);
  const json = JSON.parse(text) as { choices?: unknown[]; sim?: { pod?: string } };
  if (!json.choices?.length || json.sim?.pod !== pod) throw new Error(`${origin}${path} did not answer from pod ${pod}: ${text.slice(0, 500)}`);
}
