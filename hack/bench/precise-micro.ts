/**
 * Router CPU per request for precise (KV-event) prefix scoring with long prompts, against the
 * approximate prefix scorer, in one process with the data plane's own code from dist:
 *
 *   precise decision     = tokenize (HfTokenizer with its chunk cache, the real Qwen3 tokenizer,
 *                          as far as Scheduler.tokensNeeded() says, as the traffic path does)
 *                          + new PrefixHashes(prompt, tokens) + Scheduler.schedule
 *                            (least-request ×1 + precise-prefix-cache-scorer ×1, token-block
 *                            hashing and the lookup in a KvBlockIndex happen inside)
 *   approximate decision = new PrefixHashes(prompt) + Scheduler.schedule
 *                            (least-request ×1 + prefix-cache-scorer ×1)
 *
 * Prompts are `promptTokens` tokens (32,768) of single-token words, in `groups` groups sharing a
 * prefix; each request's tail after the prefix is new (never seen by the tokenizer's cache). Two
 * tails: a quarter of the prompt (8,192 new tokens: a new document after a shared one) and 128
 * tokens (a follow-up turn of a long conversation). Before timing, every group's prefix is
 * tokenized once (the cache is warm, as in a serving data plane) and stored in the block index on
 * two of the `endpoints` endpoints through decoded-event batches, as vLLM would report it.
 */
import { KvBlockIndex } from '../../dataplane/kv-events/kv-block-index';
import type { KvEventBatch } from '../../dataplane/kv-events/kv-event-decoder';
import { PrefixHashes } from '../../dataplane/scheduler/prefix-hashes';
import { PrefixIndex } from '../../dataplane/scheduler/prefix-index';
import { Scheduler } from '../../dataplane/scheduler/scheduler';
import type { KvEventsView, PluginEnv, SchedulingRequest } from '../../dataplane/scheduler/types';
import { schedulerConfigFromConfigMap } from '../../shared/config/scheduler-config-source';
import type { SchedulerConfig } from '../../shared/config/scheduler-config';
import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { mulberry32 } from './gsp-workload';
import { buildVocabulary } from './gsp-vocabulary';
import { microEndpoints } from './scheduler-micro';
import { cell, table } from './report';
import { round, summarize, type LatencySummary } from './stats';

/** Settings of a run. */
export interface PreciseMicroOptions {
  endpoints: number;
  promptTokens: number;
  groups: number;
  /** Timed decisions per row. */
  decisions: number;
  /** Untimed decisions per row first (JIT). */
  warmup: number;
  /** The engines' KV block size, tokens (vLLM's default on GPUs). */
  blockSize: number;
  /** Tokenizer folder (tokenizer.json + tokenizer_config.json). */
  tokenizer: string;
  seed: number;
}

export const DEFAULT_PRECISE_MICRO: Omit<PreciseMicroOptions, 'tokenizer'> = { endpoints: 100, promptTokens: 32_768, groups: 16, decisions: 400, warmup: 100, blockSize: 16, seed: 11 };

/** One row's timings, µs. */
export interface PreciseMicroRow {
  name: string;
  newTokens: number;
  tokenizeUs: LatencySummary | null;
  scheduleUs: LatencySummary;
  decisionUs: LatencySummary;
}

export interface PreciseMicroResult {
  mode: 'precise-micro';
  settings: PreciseMicroOptions;
  node: string;
  tokenizer: ReturnType<HfTokenizer['stats']>;
  rows: PreciseMicroRow[];
}

function config(score: string, args: string): SchedulerConfig {
  const r = schedulerConfigFromConfigMap({ metadata: { name: 'kthena-router-config', namespace: 'default' }, data: {
    schedulerConfiguration: `pluginConfig:\n- name: ${score}\n  args:\n${args}\nplugins:\n  Filter:\n    enabled: [least-request]\n  Score:\n    enabled:\n    - {name: least-request, weight: 1}\n    - {name: ${score}, weight: 1}`,
  } });
  if (!('config' in r) || !r.config) throw new Error(`precise-micro: bad config: ${JSON.stringify(r)}`);
  return r.config;
}

const us = (a: bigint, b: bigint): number => Number(b - a) / 1000;

/** Runs the benchmark (synchronous after loading the tokenizer). */
export async function runPreciseMicro(o: PreciseMicroOptions, progress: (line: string) => void): Promise<PreciseMicroResult> {
  const { vocabulary, tokenizer } = await buildVocabulary(o.tokenizer);
  const rand = mulberry32(o.seed);
  const words = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ` ${vocabulary.words[Math.floor(rand() * vocabulary.words.length)]!}`;
    return s;
  };
  const endpoints = microEndpoints(o.endpoints, rand);
  const index = new KvBlockIndex();
  const kv: KvEventsView = { liveBlockSize: (id) => index.blockSizeOf(id), match: (bs, h, runs) => index.match(bs, h, runs), maxBlockSize: () => Math.max(0, ...index.blockSizes()) };
  const prefixes = (tail: number) => Array.from({ length: o.groups }, () => words(o.promptTokens - tail));
  const rowsSpec = [
    { name: 'approximate (prefix-cache, 256 blocks of 64 chars)', tail: o.promptTokens / 4, precise: false, args: '    maxBlocksToMatch: 256' },
    { name: 'precise (kvcache-aware, 256 blocks)', tail: o.promptTokens / 4, precise: true, args: '    maxBlocksToMatch: 256' },
    { name: 'precise, whole prompt (2048 blocks)', tail: o.promptTokens / 4, precise: true, args: `    maxBlocksToMatch: ${o.promptTokens / o.blockSize}` },
    { name: 'approximate (prefix-cache, 256 blocks of 64 chars)', tail: 128, precise: false, args: '    maxBlocksToMatch: 256' },
    { name: 'precise (kvcache-aware, 256 blocks)', tail: 128, precise: true, args: '    maxBlocksToMatch: 256' },
    { name: 'precise, whole prompt (2048 blocks)', tail: 128, precise: true, args: `    maxBlocksToMatch: ${o.promptTokens / o.blockSize}` },
  ];
  const rows: PreciseMicroRow[] = [];
  let nextEngineHash = 0;
  for (const spec of rowsSpec) {
    const groups = prefixes(spec.tail);
    // The index learns each group's prefix on two endpoints, as their engines would report it.
    groups.forEach((text, g) => {
      const ids = [...tokenizer.encode(text, true)];
      const n = Math.floor(ids.length / o.blockSize);
      for (const ep of [g % o.endpoints, (g * 7 + 3) % o.endpoints]) {
        const batch: KvEventBatch = { ts: 0, dpRank: null, unknownEvents: 0, events: [{
          type: 'BlockStored', blockHashes: Array.from({ length: n }, () => String(nextEngineHash++)), parentBlockHash: null,
          tokenIds: ids.slice(0, n * o.blockSize), blockSize: o.blockSize, loraId: null, loraName: null, medium: null, groupIdx: null,
        }] };
        index.apply(endpoints[ep]!.id, batch);
      }
    });
    const env: PluginEnv = { random: mulberry32(o.seed), prefixIndex: () => new PrefixIndex(31250), kvEvents: kv };
    const scheduler = new Scheduler(config(spec.precise ? 'kvcache-aware' : 'prefix-cache', spec.args), env);
    const tokenize = new Float64Array(o.decisions);
    const schedule = new Float64Array(o.decisions);
    const total = new Float64Array(o.decisions);
    for (let i = 0; i < o.warmup + o.decisions; i++) {
      // A flat string, as JSON.parse gives the data plane; the tail is new every time.
      const prompt = JSON.parse(JSON.stringify(groups[i % groups.length]! + words(spec.tail))) as string;
      const t0 = process.hrtime.bigint();
      const tokens = spec.precise ? tokenizer.tokenizeRequest({ prompt }, scheduler.tokensNeeded()) : null;
      const t1 = process.hrtime.bigint();
      const req: SchedulingRequest = { model: 'm', lora: null, hashes: new PrefixHashes(prompt, tokens) };
      const first = scheduler.schedule(req, endpoints).order[0]!;
      const t2 = process.hrtime.bigint();
      scheduler.served(req, first);
      if (i >= o.warmup) {
        const k = i - o.warmup;
        tokenize[k] = us(t0, t1);
        schedule[k] = us(t1, t2);
        total[k] = us(t0, t2);
      }
    }
    const r2 = (s: LatencySummary): LatencySummary => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 1)])) as unknown as LatencySummary;
    const row: PreciseMicroRow = { name: spec.name, newTokens: spec.tail, tokenizeUs: spec.precise ? r2(summarize(tokenize)) : null, scheduleUs: r2(summarize(schedule)), decisionUs: r2(summarize(total)) };
    progress(`  ${row.name} (${row.newTokens} new tokens): decision p50 ${row.decisionUs.p50} µs p99 ${row.decisionUs.p99} µs`);
    rows.push(row);
  }
  return { mode: 'precise-micro', settings: o, node: process.version, tokenizer: tokenizer.stats(), rows };
}

/** Markdown table of a run. */
export function preciseMicroMarkdown(r: PreciseMicroResult): string {
  const s = r.settings;
  return [
    `${s.endpoints} endpoints, ${s.promptTokens}-token prompts (Qwen3 tokenizer) in ${s.groups} groups, KV blocks of ${s.blockSize} tokens, each group's prefix held by 2 endpoints; ${s.warmup} untimed and ${s.decisions} timed decisions per row; Node ${r.node}. Tokenizer: ${r.tokenizer.chunked ? 'chunked' : `whole texts (${r.tokenizer.reason})`}. µs.`,
    '',
    table(['Scorer', 'New tokens per request', 'tokenize p50', 'tokenize p99', 'schedule p50', 'schedule p99', 'decision p50', 'decision p99', 'decision max', 'p99 ≤ 2 ms'],
      r.rows.map((x) => [x.name, String(x.newTokens), x.tokenizeUs ? cell(x.tokenizeUs.p50, 0) : '–', x.tokenizeUs ? cell(x.tokenizeUs.p99, 0) : '–',
        cell(x.scheduleUs.p50, 0), cell(x.scheduleUs.p99, 0), cell(x.decisionUs.p50, 0), cell(x.decisionUs.p99, 0), cell(x.decisionUs.max, 0), x.decisionUs.p99 <= 2000 ? 'yes' : '**no**'])),
  ].join('\n');
}
