/**
 * Rate-limit cost mode: the latency a token rate limit adds to a request, measured in one run on
 * one data plane against one fast simulated engine (as the overhead mode's), at the same offered
 * rate, for three routes to the same ModelServer:
 *
 *   - `m-plain`: no rate limit (the baseline);
 *   - `m-local`: a local limit (in-memory buckets);
 *   - `m-redis`: a global limit through a real redis-server on loopback (one Lua script per
 *     check and one per charge).
 *
 * The limits are far above the offered load, so nothing is refused and the difference is the
 * cost of checking and charging. Every route rewrites `model` to the server's, so all three pay
 * the same body rewrite. Rounds alternate the order, so drift of the machine hits all alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '../redis-server';
import { readyPodYaml } from '../sim-pods';
import { runLoadInChild } from './load-generator';
import { stopAll } from './processes';
import { DEFAULT_ENGINE, startStack } from './stack';
import { round } from './stats';

/** Settings of a run. */
export interface RatelimitCostOptions {
  /** Offered requests per second. */
  rate: number;
  /** Measured seconds per route and round. */
  durationSec: number;
  /** Rounds; each measures every route once. */
  rounds: number;
  progress: (line: string) => void;
}

/** Defaults: 500 req/s, 8 s per measurement, 3 rounds. */
export const DEFAULT_RATELIMIT_COST: Omit<RatelimitCostOptions, 'progress'> = { rate: 500, durationSec: 8, rounds: 3 };

const ROUTES = ['m-plain', 'm-local', 'm-redis'] as const;

/** One measurement. */
export interface CostRow {
  round: number;
  route: (typeof ROUTES)[number];
  ok: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

/** The whole run. */
export interface RatelimitCostResult {
  rate: number;
  durationSec: number;
  rows: CostRow[];
  /** Median over rounds of (route p99 − plain p99 of the same round), ms. */
  addedP99Ms: { local: number; redis: number };
  addedP50Ms: { local: number; redis: number };
}

const route = (name: string, limit: string) => `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: ${name}, namespace: default}
spec:
  modelName: ${name}
  rules:
  - targetModels: [{modelServerName: bench}]
${limit}---
`;

function objects(redisAddress: string): string {
  const e = DEFAULT_ENGINE;
  const limit = 'inputTokensPerUnit: 1000000000\n    outputTokensPerUnit: 1000000000\n    unit: second';
  return route('m-plain', '')
    + route('m-local', `  rateLimit:\n    ${limit}\n`)
    + route('m-redis', `  rateLimit:\n    ${limit}\n    global:\n      redis: {address: "${redisAddress}"}\n`)
    + `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: bench, namespace: default}
spec:
  workloadSelector: {matchLabels: {app: bench}}
  workloadPort: {port: ${e.port}}
  model: "${e.model}"
  inferenceEngine: vLLM
---
${readyPodYaml('bench-0', { app: 'bench' }, e.ip)}`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs every round. */
export async function runRatelimitCost(o: RatelimitCostOptions): Promise<RatelimitCostResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-rl-'));
  const redis = await startRedisServer({ host: '127.0.0.63' });
  try {
    const stack = await startStack({ dir, engine: DEFAULT_ENGINE, accessLogs: [false], dataplaneNodeArgs: [], objects: objects(redis.address) });
    const origin = stack.dataplanes[0]!.url;
    const rows: CostRow[] = [];
    const load = (model: string, durationSec: number, warmupSec: number) => runLoadInChild({
      origin, path: '/v1/completions', body: JSON.stringify({ model, prompt: 'How fast is a rate limit?', max_tokens: 1 }),
      rate: o.rate, durationSec, warmupSec, connections: 64, maxOutstanding: 1000, timeoutMs: 5000,
    });
    // JIT warm-up of every path, not measured.
    for (const r of ROUTES) await load(r, 2, 1);
    for (let i = 0; i < o.rounds; i++) {
      const order = i % 2 === 0 ? [...ROUTES] : [...ROUTES].reverse();
      for (const r of order) {
        o.progress(`ratelimit-cost: round ${i + 1}, ${r}`);
        const res = await load(r, o.durationSec, 2);
        rows.push({ round: i + 1, route: r, ok: res.ok, errors: res.errorCount, p50Ms: round(res.latencyMs.p50, 3), p99Ms: round(res.latencyMs.p99, 3) });
      }
    }
    await stack.stop();
    const added = (r: 'm-local' | 'm-redis', k: 'p50Ms' | 'p99Ms') => round(median(Array.from({ length: o.rounds }, (_, i) => {
      const of = (name: string) => rows.find((x) => x.round === i + 1 && x.route === name)![k];
      return of(r) - of('m-plain');
    })), 3);
    return {
      rate: o.rate,
      durationSec: o.durationSec,
      rows,
      addedP99Ms: { local: added('m-local', 'p99Ms'), redis: added('m-redis', 'p99Ms') },
      addedP50Ms: { local: added('m-local', 'p50Ms'), redis: added('m-redis', 'p50Ms') },
    };
  } finally {
    await stopAll();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Markdown table of a run. */
export function ratelimitCostMarkdown(r: RatelimitCostResult): string {
  const out = [`${r.rate} req/s open loop, ${r.durationSec} s per measurement, max_tokens 1, through one data plane (access log off).`, '',
    '| round | route | ok | errors | p50 | p99 |', '|---|---|---|---|---|---|'];
  for (const x of r.rows) out.push(`| ${x.round} | ${x.route} | ${x.ok} | ${x.errors} | ${x.p50Ms} ms | ${x.p99Ms} ms |`);
  out.push('', `Added latency (median over rounds, vs m-plain in the same round): local p50 ${r.addedP50Ms.local} ms, p99 ${r.addedP99Ms.local} ms; Redis p50 ${r.addedP50Ms.redis} ms, p99 ${r.addedP99Ms.redis} ms.`);
  return out.join('\n');
}
