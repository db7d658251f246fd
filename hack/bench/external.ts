/**
 * External mode: the latency and throughput an ExternalModelProvider target costs. The engine
 * simulator plays a provider outside the cluster, as vLLM would with `--api-key` and
 * `--ssl-keyfile/--ssl-certfile` (a certificate from a private CA made with openssl, which the
 * data plane trusts through NODE_EXTRA_CA_CERTS, as docs/external-providers.md tells users to).
 * In one run, with overhead.ts's measurePaths (rates in alternating order, then closed-loop max
 * throughput), it measures:
 *
 *   - `direct`: the load generator to the provider itself: HTTPS, the API key, the provider's model;
 *   - `sluice-external`: through a data plane (access log on) whose route targets an
 *     ExternalModelProvider for that simulator: HTTPS, `auth.secretRef`, and a `model` that differs
 *     from the client's, so the body is re-serialised as in real use;
 *   - `sluice-pod` (unless `podIp` is null): the same simulator process as a plain-HTTP ModelServer
 *     pod without a key, the overhead mode's `sluice` path (no model rename), for comparison.
 *
 * Every process is stopped at the end, whatever happens.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestCerts } from '../test-certs';
import type { LoadConfig } from './load-common';
import { benchMachine, dataplaneBuild, DEFAULT_OVERHEAD, inWorkDir, measure, measurePaths, requestBody, type BenchMachine, type OverheadResult, type PathName, type PathsOptions, type Target } from './overhead';
import { latencyMarkdown, machineMarkdown, maxMarkdown } from './report';
import { checkPath, DEFAULT_ENGINE, objectsYaml, startStack, type EngineSettings, type Stack } from './stack';
import { round } from './stats';

/** Settings of an external run. */
export type ExternalOptions = PathsOptions & {
  /** The provider: its loopback address, port, served model and simulator settings. */
  engine: EngineSettings;
  /** Address of the plain ModelServer pod (same simulator, same port); null leaves `sluice-pod` out. */
  podIp: string | null;
  /** Extra node flags for the data plane, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR]. */
  dataplaneNodeArgs: string[];
  /** Keep the working folder (logs, snapshot, certificates) instead of deleting it. */
  keepDir: boolean;
};

/**
 * Defaults: about 100 s on a 2-core machine (3 paths × 3 rates × 6 s, one closed-loop run of 64
 * clients per path). Addresses of their own, so the overhead mode's engine can run beside it.
 */
export const DEFAULT_EXTERNAL: Omit<ExternalOptions, 'progress'> = {
  rates: [100, 250, 500],
  durationSec: 4,
  warmupSec: 2,
  maxMethod: 'closed',
  maxRates: DEFAULT_OVERHEAD.maxRates,
  maxConcurrency: [64],
  maxDurationSec: 4,
  maxP99Ms: null,
  primeSec: 2,
  connections: 256,
  maxOutstanding: 1000,
  timeoutMs: 10_000,
  engine: { ...DEFAULT_ENGINE, ip: '127.0.12.1' },
  podIp: '127.0.12.2',
  dataplaneNodeArgs: [],
  keepDir: false,
};

/** The key the simulated provider demands; any other gets its 401. */
export const PROVIDER_KEY = 'sk-bench-provider-5c1e';
/** The model name clients ask Sluice for; the provider's `model` replaces it. */
export const EXTERNAL_MODEL = 'ext';

/** What the objects name. */
export interface ExternalObjectsSettings {
  /** The provider (simulator) address, port and served model. */
  engine: Pick<EngineSettings, 'ip' | 'port' | 'model'>;
  /** The plain ModelServer pod's address, or null for none. */
  podIp: string | null;
  apiKey: string;
}

/**
 * The objects of the operator's folder: a Secret holding the key, an ExternalModelProvider for the
 * simulator over HTTPS naming it, a route `ext` to the provider, and, with a pod, the overhead
 * mode's route, ModelServer and Pod (stack.ts's objectsYaml) at `podIp`.
 */
export function externalObjectsYaml(s: ExternalObjectsSettings): string {
  const e = s.engine;
  const external = `apiVersion: v1
kind: Secret
metadata: {name: bench-provider-key, namespace: default}
type: Opaque
stringData:
  apiKey: "${s.apiKey}"
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ExternalModelProvider
metadata: {name: bench-provider, namespace: default}
spec:
  providerType: OpenAI
  model: "${e.model}"
  baseURL: https://${e.ip}:${e.port}/v1
  auth:
    secretRef: {name: bench-provider-key, key: apiKey}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: ${EXTERNAL_MODEL}, namespace: default}
spec:
  modelName: ${EXTERNAL_MODEL}
  rules:
  - name: default
    targetModels:
    - externalModelProviderName: bench-provider
`;
  return s.podIp === null ? external : `${external}---\n${objectsYaml({ ...DEFAULT_ENGINE, ...e, ip: s.podIp })}`;
}

/** How one path is reached: where the load goes, what it sends, and which simulated pod answers. */
export interface PathPlan {
  target: Target;
  load: Pick<LoadConfig, 'body' | 'headers' | 'caFile'>;
  pod: string;
}

/** Every path's plan, for a stack started with externalObjectsYaml and the provider's CA file. */
export function externalPlans(stack: Stack, engine: EngineSettings, caFile: string): Record<'direct' | 'sluice-external' | 'sluice-pod', PathPlan> {
  const dataplane = stack.dataplanes[0]!;
  return {
    direct: {
      target: { origin: `https://${engine.ip}:${engine.port}` },
      load: { body: requestBody(engine.model), headers: { authorization: `Bearer ${PROVIDER_KEY}` }, caFile },
      pod: 'provider',
    },
    'sluice-external': { target: { origin: dataplane.url, dataplane }, load: { body: requestBody(EXTERNAL_MODEL) }, pod: 'provider' },
    'sluice-pod': { target: { origin: dataplane.url, dataplane }, load: { body: requestBody(engine.model) }, pod: 'bench-0' },
  };
}

/** Everything an external run produced. */
export interface ExternalResult extends Pick<OverheadResult, 'build' | 'rows' | 'max'> {
  mode: 'external';
  startedAt: string;
  totalSec: number;
  machine: BenchMachine;
  settings: Omit<ExternalOptions, 'progress'> & { requestBodies: Partial<Record<PathName, string>> };
}

/** Runs the whole external benchmark. Always stops the processes it started. */
export async function runExternal(opts: ExternalOptions): Promise<ExternalResult> {
  const t0 = Date.now();
  const { progress, ...settings } = opts;
  const e = opts.engine;
  const paths: PathName[] = ['direct', 'sluice-external', ...(opts.podIp === null ? [] : ['sluice-pod' as const])];
  const result: ExternalResult = {
    mode: 'external', startedAt: new Date(t0).toISOString(), totalSec: 0, machine: await benchMachine(progress), build: dataplaneBuild(),
    settings: { ...settings, requestBodies: {} }, rows: [], max: [],
  };
  await inWorkDir('sluice-bench-ext-', opts, async (dir) => {
    const tlsDir = join(dir, 'tls');
    mkdirSync(tlsDir);
    const tls = await writeTestCerts(tlsDir, { ca: true, ips: [e.ip] });
    const stack = await startStack({
      dir, engine: e, accessLogs: [true], dataplaneNodeArgs: opts.dataplaneNodeArgs,
      objects: externalObjectsYaml({ engine: e, podIp: opts.podIp, apiKey: PROVIDER_KEY }),
      pods: [
        { name: 'provider', ip: e.ip, apiKey: PROVIDER_KEY, sslKeyfile: tls.keyFile, sslCertfile: tls.certFile },
        ...(opts.podIp === null ? [] : [{ name: 'bench-0', ip: opts.podIp, apiKey: '' }]),
      ],
      dataplaneEnv: { NODE_EXTRA_CA_CERTS: tls.caFile },
    });
    const plans = externalPlans(stack, e, tls.caFile);
    const planOf = (p: PathName): PathPlan => plans[p as keyof typeof plans];
    for (const p of paths) {
      result.settings.requestBodies[p] = planOf(p).load.body;
      await checkPath(planOf(p).target.origin, '/v1/completions', planOf(p).load.body, planOf(p).pod, planOf(p).load);
    }
    Object.assign(result, await measurePaths((p, cfg) => measure(stack, p, { ...cfg, ...planOf(p).load }, planOf(p).target), paths, plans.direct.load.body, opts));
  });
  result.totalSec = round((Date.now() - t0) / 1000, 1);
  return result;
}

/** The Markdown report of an external run. */
export function externalMarkdown(r: ExternalResult): string {
  const s = r.settings;
  const out = [
    machineMarkdown(r),
    `Run: ${s.durationSec} s measured + ${s.warmupSec} s warm-up per rate and path; client pool ${s.connections} connections, at most ${s.maxOutstanding} in flight; max_tokens 1; provider = engine sim pod at https://${s.engine.ip}:${s.engine.port} (vLLM --api-key and --ssl-*, private CA), timeScale ${s.engine.timeScale}, profile ${JSON.stringify(s.engine.profile)}. Total ${r.totalSec} s.`,
    '',
    `Paths: \`direct\` = load generator → provider (HTTPS, API key, model \`${s.engine.model}\`); \`sluice-external\` = → data plane (access log on) → ExternalModelProvider (HTTPS, auth.secretRef, model \`${EXTERNAL_MODEL}\` renamed to \`${s.engine.model}\`)${s.podIp === null ? '' : `; \`sluice-pod\` = → data plane → the same simulator as a ModelServer pod at http://${s.podIp}:${s.engine.port} (no key, no rename)`}. "+"/"×" compare with \`direct\` at the same rate.`,
  ];
  if (r.rows.length) out.push('', latencyMarkdown(r));
  if (r.max.length) out.push('', maxMarkdown(r));
  return out.join('\n');
}
