/**
 * PD mode: prefill/decode disaggregation versus aggregated serving on the same hardware budget,
 * in one run: 2 prefill + 2 decode simulated vLLM pods (one PD group, nixl connector) against 4
 * aggregated pods, the same long-prompt streaming workload through one data plane each. Reports
 * TTFT (send → first content chunk) and inter-token latency (gaps between content chunks, every
 * gap of every request) p50/p99, end-to-end p50 and throughput.
 *
 * The simulator charges a step for its prefill tokens and its decode sequences together (chunked
 * prefill, as vLLM's), so on aggregated pods a long prefill stretches the decode steps of every
 * request running beside it; PD decode pods never prefill, and pay the KV transfer
 * (kvTransferMsPerToken) once per request instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { mulberry32, poissonArrivals, randomWords } from './gsp-workload';
import { sleep, stopAll } from './processes';
import { startStack } from './stack';
import { readyPodYaml } from '../sim-pods';
import { round, summarize, type LatencySummary } from './stats';

/** Settings of a run. */
export interface PdOptions {
  /** Requests per phase. */
  requests: number;
  /** Offered requests per wall second. */
  rate: number;
  promptTokens: number;
  outputTokens: number;
  /** Simulated ms per wall ms. */
  timeScale: number;
  progress: (line: string) => void;
}

/** Defaults: 240 requests of 3,000 prompt and 128 output tokens at 1.5 req/s, time scale 2. */
export const DEFAULT_PD: Omit<PdOptions, 'progress'> = { requests: 240, rate: 1.5, promptTokens: 3000, outputTokens: 128, timeScale: 2 };

/** One phase's figures (wall ms; multiply by timeScale for simulated ms). */
export interface PdRow {
  setup: 'aggregated' | 'pd';
  ok: number;
  errors: number;
  ttft: LatencySummary;
  itl: LatencySummary;
  e2e: LatencySummary;
  reqPerSec: number;
}

const IPS = ['127.0.0.81', '127.0.0.82', '127.0.0.83', '127.0.0.84'];

function objects(pd: boolean): string {
  const selector = pd
    ? `    matchLabels: {app: bench}
    pdGroup:
      groupKey: group
      prefillLabels: {role: prefill}
      decodeLabels: {role: decode}`
    : '    matchLabels: {app: bench}';
  const pods = IPS.map((ip, i) => {
    const labels: Record<string, string> = pd ? { app: 'bench', group: 'g0', role: i < 2 ? 'prefill' : 'decode' } : { app: 'bench' };
    return `---\n${readyPodYaml(`bench-${i}`, labels, ip)}`;
  }).join('');
  return `apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: bench, namespace: default}
spec:
  modelName: m
  rules:
  - targetModels: [{modelServerName: bench}]
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: bench, namespace: default}
spec:
  workloadSelector:
${selector}
  workloadPort: {port: 8000}
  model: m
  inferenceEngine: vLLM
${pd ? '  kvConnector: {type: nixl}\n' : ''}  trafficPolicy: {timeout: 600s}
${pods}`;
}

/** Runs both setups. */
export async function runPd(o: PdOptions): Promise<PdRow[]> {
  const rows: PdRow[] = [];
  for (const setup of ['aggregated', 'pd'] as const) {
    const dir = mkdtempSync(join(tmpdir(), `sluice-bench-pd-${setup}-`));
    try {
      o.progress(`pd: ${setup}`);
      const pods = IPS.map((ip, i) => (setup === 'pd' ? { name: `bench-${i}`, ip, role: i < 2 ? 'prefill' : 'decode', group: 'g0' } : { name: `bench-${i}`, ip }));
      const stack = await startStack({
        dir, accessLogs: [false], dataplaneNodeArgs: [], objects: objects(setup === 'pd'), pods,
        engine: { ip: IPS[0]!, port: 8000, model: 'm', timeScale: o.timeScale, profile: {} },
      });
      rows.push(await measure(setup, stack.dataplanes[0]!.url, o));
      await stack.stop();
    } finally {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

async function measure(setup: PdRow['setup'], url: string, o: PdOptions): Promise<PdRow> {
  const pool = new Pool(url, { connections: 256 });
  const rand = mulberry32(7);
  const prompts = Array.from({ length: o.requests }, (_, i) => `request ${i}: ${randomWords(o.promptTokens, rand)}`);
  const arrivals = poissonArrivals(o.requests, o.rate, 11);
  const ttft: number[] = [];
  const itl: number[] = [];
  const e2e: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const one = async (i: number): Promise<void> => {
    const wait = t0 + arrivals[i]! * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const sent = performance.now();
    try {
      const res = await pool.request({
        path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', prompt: prompts[i], max_tokens: o.outputTokens, ignore_eos: true, stream: true }),
        headersTimeout: 600_000, bodyTimeout: 600_000,
      });
      if (res.statusCode !== 200) {
        errors++;
        await res.body.dump();
        return;
      }
      let last = -1;
      let buf = '';
      for await (const chunk of res.body) {
        const now = performance.now();
        buf += (chunk as Buffer).toString();
        // Count content events in this read; several may arrive together (their gaps are 0).
        let at = buf.indexOf('\n\n');
        while (at >= 0) {
          const event = buf.slice(0, at);
          buf = buf.slice(at + 2);
          if (event.startsWith('data: {') && event.includes('"text"')) {
            if (last < 0) ttft.push(now - sent);
            else itl.push(now - last);
            last = now;
          }
          at = buf.indexOf('\n\n');
        }
      }
      e2e.push(performance.now() - sent);
    } catch {
      errors++;
    }
  };
  await Promise.all(Array.from({ length: o.requests }, (_, i) => one(i)));
  const elapsed = (performance.now() - t0) / 1000;
  await pool.close();
  return { setup, ok: e2e.length, errors, ttft: summarize(ttft), itl: summarize(itl), e2e: summarize(e2e), reqPerSec: round(e2e.length / elapsed, 2) };
}

/** Markdown table; times shown in simulated ms (wall × timeScale). */
export function pdMarkdown(rows: PdRow[], o: Omit<PdOptions, 'progress'>): string {
  const s = (ms: number) => `${Math.round(ms * o.timeScale)} ms`;
  const out = [`${o.requests} streaming requests of ${o.promptTokens} prompt + ${o.outputTokens} output tokens, Poisson at ${o.rate} req/s wall (time scale ${o.timeScale}); times in simulated ms.`, '',
    '| setup | ok | errors | TTFT p50 | TTFT p99 | ITL mean | ITL p50 | ITL p99 | ITL p99.9 | ITL max | e2e p50 | req/s (wall) |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    out.push(`| ${r.setup === 'pd' ? '2 prefill + 2 decode (nixl)' : '4 aggregated'} | ${r.ok} | ${r.errors} | ${s(r.ttft.p50)} | ${s(r.ttft.p99)} | ${(r.itl.mean * o.timeScale).toFixed(1)} ms | ${s(r.itl.p50)} | ${s(r.itl.p99)} | ${s(r.itl.p999)} | ${s(r.itl.max)} | ${s(r.e2e.p50)} | ${r.reqPerSec} |`);
  }
  return out.join('\n');
}
