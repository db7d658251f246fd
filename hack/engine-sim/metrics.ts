import { PdStats } from './pd-stats';
import { Histogram } from './prom';

/**
 * Per-pod statistics: plain counters (also shown by /sim/state) and latency /
 * size histograms in *simulated* seconds, with the bucket bounds of the engine
 * flavour the pod imitates (copied from vLLM's, SGLang's and TGI's sources so
 * dashboards and routers see familiar buckets).
 */

/** Which real engine's /metrics names and buckets a pod imitates. */
export type EngineFlavour = 'vllm' | 'sglang' | 'tgi';

/** Monotonic counters of one pod. */
export interface EngineCounters {
  /** Inference requests received (before validation and faults). */
  requestsReceived: number;
  /** Requests that finished generating (stop or length). */
  requestsServed: number;
  /** Requests cancelled by the client while waiting or running. */
  requestsAborted: number;
  /** Requests refused with a 4xx before reaching the engine. */
  requestsRejected: number;
  /** Requests answered by an injected fault. */
  faultsInjected: number;
  /** Finished with finish_reason "stop" / "length". */
  finishedStop: number;
  /** See finishedStop. */
  finishedLength: number;
  /** Prompt tokens of requests that started prefill. */
  promptTokens: number;
  /** Output tokens produced. */
  generationTokens: number;
  /** Prompt tokens looked up in the prefix cache (vLLM prefix_cache_queries). */
  prefixCacheQueries: number;
  /** Of those, tokens found (vLLM prefix_cache_hits). */
  prefixCacheHits: number;
  /** Running sequences evicted to the waiting queue for lack of KV blocks. */
  preemptions: number;
}

/** The latency / size histograms every flavour records. */
export interface EngineHistograms {
  ttft: Histogram;
  itl: Histogram;
  e2e: Histogram;
  queue: Histogram;
  prefill: Histogram;
  decode: Histogram;
  inference: Histogram;
  tpotRequest: Histogram;
  promptTokens: Histogram;
  generationTokens: Histogram;
  maxTokens: Histogram;
}

/** vLLM's build_1_2_5_buckets(max): 1, 2, 5, 10, 20, 50, ... <= max. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  // 20 decades is far past any context length; the loop is bounded anyway.
  for (let exp = 0, scale = 1; exp < 20; exp++, scale *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * scale > max) return out;
      out.push(m * scale);
    }
  }
  return out;
}

/** vLLM (v1/metrics/loggers.py) bucket bounds. */
const VLLM = {
  ttft: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560],
  itl: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
  request: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680],
};

/** SGLang (srt/metrics/collector.py) default bucket bounds. */
const SGLANG = {
  ttft: [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400],
  itl: [0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8],
  e2e: [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400],
};

/** TGI router duration buckets: 35 steps of a geometric series 0.0001 * 1.5^i, i = 1..35. */
function tgiDurationBuckets(): number[] {
  const out: number[] = [];
  let v = 0.0001;
  for (let i = 0; i < 35; i++) {
    v *= 1.5;
    out.push(Number(v.toPrecision(6)));
  }
  return out;
}

/** TGI length buckets: 100 equal steps up to `max` tokens. */
function tgiLengthBuckets(max: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= 100; i++) out.push((max / 100) * i);
  return out;
}

function histogramsFor(flavour: EngineFlavour, maxModelLen: number): EngineHistograms {
  const h = (b: readonly number[]): Histogram => new Histogram(b);
  switch (flavour) {
    case 'vllm':
      return {
        ttft: h(VLLM.ttft), itl: h(VLLM.itl), e2e: h(VLLM.request), queue: h(VLLM.request),
        prefill: h(VLLM.request), decode: h(VLLM.request), inference: h(VLLM.request), tpotRequest: h(VLLM.itl),
        promptTokens: h(buckets125(maxModelLen)), generationTokens: h(buckets125(maxModelLen)),
        maxTokens: h(buckets125(maxModelLen)),
      };
    case 'sglang':
      return {
        ttft: h(SGLANG.ttft), itl: h(SGLANG.itl), e2e: h(SGLANG.e2e), queue: h(SGLANG.e2e),
        prefill: h(SGLANG.e2e), decode: h(SGLANG.e2e), inference: h(SGLANG.e2e), tpotRequest: h(SGLANG.itl),
        promptTokens: h(buckets125(maxModelLen)), generationTokens: h(buckets125(maxModelLen)),
        maxTokens: h(buckets125(maxModelLen)),
      };
    case 'tgi': {
      const d = tgiDurationBuckets();
      return {
        ttft: h(d), itl: h(d), e2e: h(d), queue: h(d), prefill: h(d), decode: h(d), inference: h(d),
        tpotRequest: h(d), promptTokens: h(tgiLengthBuckets(maxModelLen)),
        generationTokens: h(tgiLengthBuckets(maxModelLen)), maxTokens: h(tgiLengthBuckets(maxModelLen)),
      };
    }
  }
}

/** What a finished request contributes to the statistics (simulated seconds). */
export interface FinishedRequestStats {
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  maxTokens: number;
  e2eSec: number;
  /** Undefined when the request never started (aborted while waiting). */
  queueSec?: number;
  prefillSec?: number;
  decodeSec?: number;
}

/** Mutable statistics of one pod; the engine and HTTP layer update it. */
export class EngineStats {
  /** Counters, see EngineCounters. */
  readonly counters: EngineCounters = {
    requestsReceived: 0, requestsServed: 0, requestsAborted: 0, requestsRejected: 0, faultsInjected: 0,
    finishedStop: 0, finishedLength: 0, promptTokens: 0, generationTokens: 0,
    prefixCacheQueries: 0, prefixCacheHits: 0, preemptions: 0,
  };
  /** Histograms with the flavour's buckets. */
  readonly hist: EngineHistograms;
  /** Prefill/decode disaggregation counters (simulator-only metrics). */
  readonly pd = new PdStats();
  /**
   * vLLM's lora_requests_info is a gauge set to the current time under labels
   * naming the running/waiting adapters; prometheus_client keeps every label
   * set it has seen, so scrapers take the series with the newest value. We keep
   * the 8 most recent sets (key = label JSON, value = unix seconds).
   */
  readonly loraInfo = new Map<string, number>();

  /** Create statistics for a pod of the given flavour. */
  constructor(
    readonly flavour: EngineFlavour,
    readonly maxModelLen: number,
  ) {
    this.hist = histogramsFor(flavour, maxModelLen);
  }

  /** Record the LoRA state seen at the end of a scheduler step. */
  noteLoraState(running: readonly string[], waiting: readonly string[], maxLoras: number, nowUnixSec: number): void {
    const key = JSON.stringify({
      running_lora_adapters: running.join(','),
      waiting_lora_adapters: waiting.join(','),
      max_lora: String(maxLoras),
    });
    this.loraInfo.delete(key);
    this.loraInfo.set(key, nowUnixSec);
    // Map iteration order = insertion order, so the first key is the stalest.
    while (this.loraInfo.size > 8) this.loraInfo.delete(this.loraInfo.keys().next().value as string);
  }

  /** Record one finished (or aborted) request. */
  observeFinished(r: FinishedRequestStats): void {
    const c = this.counters;
    if (r.finishReason === 'abort') c.requestsAborted++;
    else {
      c.requestsServed++;
      if (r.finishReason === 'stop') c.finishedStop++;
      else c.finishedLength++;
    }
    const h = this.hist;
    h.e2e.observe(r.e2eSec);
    if (r.queueSec === undefined) return;
    h.queue.observe(r.queueSec);
    h.prefill.observe(r.prefillSec ?? 0);
    h.decode.observe(r.decodeSec ?? 0);
    h.inference.observe((r.prefillSec ?? 0) + (r.decodeSec ?? 0));
    if (r.completionTokens > 1) h.tpotRequest.observe((r.decodeSec ?? 0) / (r.completionTokens - 1));
    h.promptTokens.observe(r.promptTokens);
    h.generationTokens.observe(r.completionTokens);
    h.maxTokens.observe(r.maxTokens);
  }
}
