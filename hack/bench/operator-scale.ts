/**
 * `sluice-bench operator-scale`: the control plane at fleet scale, in one process. Builds N
 * ModelServers × P Pods and R ModelRoutes, validates them as the operator does, compiles the
 * snapshot (the operator's reconcile), measures its size (JSON and gzip, the ConfigMap limit is
 * 1 MiB), then applies it as a data plane would (validate + routing table + schedulers) and PUTs
 * it to a real data-plane process over loopback. Reports p50/p99 over repeated runs and the RSS.
 *
 * Targets (issue 4): compile < 250 ms at 1,000 ModelServers × 10 Pods and 2,000 ModelRoutes;
 * operator RSS < 300 MiB.
 */
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { validateObject } from '../../shared/api/validate';
import { compileSnapshot, type ObjectSet } from '../../shared/snapshot/compile';
import { validateSnapshot } from '../../shared/snapshot/validate-snapshot';
import { EndpointRegistry } from '../../dataplane/proxy/endpoint-registry';
import { RoutingTable } from '../../dataplane/routing/routing-table';
import { SchedulerEnv } from '../../dataplane/scheduler/scheduler-env';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from './stats';
import { startNode } from './processes';

/** Options of the mode. */
export interface OperatorScaleOptions {
  servers: number;
  podsPerServer: number;
  routes: number;
  runs: number;
}

const API = 'networking.serving.volcano.sh/v1alpha1';

/** The objects of a large fleet, validated as the operator's sources validate them. */
export function fleetObjects(o: OperatorScaleOptions): ObjectSet {
  const valid = <T>(x: unknown): T => {
    const r = validateObject(x);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.object as T;
  };
  const servers = [];
  const pods = [];
  for (let s = 0; s < o.servers; s++) {
    servers.push(valid({ apiVersion: API, kind: 'ModelServer', metadata: { name: `ms-${s}`, namespace: `team-${s % 20}`, generation: 1 },
      spec: { model: `org/model-${s}`, inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { app: `ms-${s}` } }, workloadPort: { port: 8000 }, trafficPolicy: { timeout: '60s' } } }));
    for (let p = 0; p < o.podsPerServer; p++) {
      const n = s * o.podsPerServer + p;
      pods.push(valid({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `ms-${s}-${p}`, namespace: `team-${s % 20}`, labels: { app: `ms-${s}`, 'pod-template-hash': 'abc' } },
        status: { phase: 'Running', podIP: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, conditions: [{ type: 'Ready', status: 'True' }] } }));
    }
  }
  const routes = [];
  for (let r = 0; r < o.routes; r++) {
    const a = r % o.servers;
    const b = (r * 7 + 3) % o.servers;
    const ns = `team-${a % 20}`;
    // Half the routes split traffic two ways, some match a header first: a realistic mix.
    const second = b % 20 === a % 20 && b !== a ? [{ modelServerName: `ms-${b}`, weight: 30 }] : [];
    routes.push(valid({ apiVersion: API, kind: 'ModelRoute', metadata: { name: `route-${r}`, namespace: ns, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, r)).toISOString(), generation: 1 },
      spec: { modelName: `model-${r}`, ...(r % 5 === 0 ? { loraAdapters: [`lora-${r}-a`, `lora-${r}-b`] } : {}),
        rules: [
          ...(r % 3 === 0 ? [{ name: 'premium', modelMatch: { headers: { 'user-type': { exact: 'premium' } } }, targetModels: [{ modelServerName: `ms-${a}` }] }] : []),
          { name: 'default', targetModels: [{ modelServerName: `ms-${a}`, weight: second.length ? 70 : 100 }, ...second] },
        ] } }));
  }
  return { routes, servers, pods, configMaps: [] };
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;

/** Runs the mode and prints a Markdown report. */
export async function runOperatorScale(o: OperatorScaleOptions): Promise<void> {
  const tBuild = process.hrtime.bigint();
  const objects = fleetObjects(o);
  const buildMs = ms(tBuild);
  const compile: number[] = [];
  const apply: number[] = [];
  let coldApply = 0;
  let snapshot = compileSnapshot(objects, { version: 1, generatedAt: new Date().toISOString(), routerConfigNamespace: 'default' }).snapshot;
  for (let i = 0; i < o.runs; i++) {
    const t0 = process.hrtime.bigint();
    snapshot = compileSnapshot(objects, { version: i + 2, generatedAt: new Date().toISOString(), routerConfigNamespace: 'default' }).snapshot;
    compile.push(ms(t0));
  }
  const json = Buffer.from(JSON.stringify(snapshot));
  const gz = gzipSync(json);
  // What an operator holds: the objects, the compiled snapshot and its serialised copies.
  const operatorRss = process.memoryUsage().rss;
  const registry = new EndpointRegistry({ connections: 1, connectTimeoutMs: 1000 });
  const env = new SchedulerEnv(registry);
  for (let i = 0; i < Math.min(o.runs, 10); i++) {
    const t0 = process.hrtime.bigint();
    const parsed = JSON.parse(json.toString('utf8')) as unknown;
    const check = validateSnapshot(parsed);
    if (!check.ok) throw new Error(JSON.stringify(check.issues.slice(0, 3)));
    new RoutingTable(check.snapshot, registry, env);
    // The first apply creates every Endpoint; later ones reuse them, as a data plane does.
    if (i === 0) coldApply = ms(t0);
    else apply.push(ms(t0));
  }
  await registry.close();
  const rss = process.memoryUsage().rss;

  // A real data plane over loopback: the operator's PUT, body gzip-compressed as it sends large ones.
  const work = mkdtempSync(join(tmpdir(), 'sluice-operator-scale-'));
  const { proc: dp, match } = await startNode('dataplane', 'dataplane/main.js', ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--access-log', 'false', '--scrape-interval-ms', '3600000'], work, /"adminPort":(\d+)/);
  const push: number[] = [];
  try {
    for (let i = 0; i < Math.min(o.runs, 10); i++) {
      const body = gzipSync(Buffer.from(JSON.stringify({ ...snapshot, version: snapshot.version + i + 1 })));
      const t0 = process.hrtime.bigint();
      const res = await request(`http://127.0.0.1:${match[1]}/v1/snapshot`, { method: 'PUT', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`push refused: ${res.statusCode} ${text.slice(0, 300)}`);
      push.push(ms(t0));
    }
  } finally {
    await dp.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const row = (name: string, xs: number[], target = '') => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `| ${name} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${sorted[sorted.length - 1]!.toFixed(1)} | ${target} |`;
  };
  console.log(`Fleet: ${o.servers} ModelServers × ${o.podsPerServer} Pods (${o.servers * o.podsPerServer} endpoints), ${o.routes} ModelRoutes; objects built and validated in ${buildMs.toFixed(0)} ms.

| step (ms) | p50 | p99 | max | target |
|---|--:|--:|--:|---|
${row(`compile (operator), ${o.runs} runs`, compile, '< 250 ms')}
| apply in a data plane, first (new endpoints; pools are opened lazily) | ${coldApply.toFixed(1)} | | | |
${row('apply in a data plane, next ones: parse + validate + routing table + schedulers', apply)}
${row('PUT to a data-plane process over loopback (gzip), applied', push)}

| size | bytes |
|---|--:|
| snapshot JSON | ${json.length.toLocaleString('en')} (${mib(json.length)} MiB) |
| gzip (ConfigMap binaryData, limit 1 MiB) | ${gz.length.toLocaleString('en')} (${mib(gz.length)} MiB) |

RSS after compiling (what the operator holds: objects, snapshot, serialised copies): ${mib(operatorRss)} MiB (target < 300 MiB).
RSS after also applying it as a data plane (routing tables, 2 × ${o.servers * o.podsPerServer} connection pools): ${mib(rss)} MiB.`);
}
