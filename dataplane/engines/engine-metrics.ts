/**
 * What the scheduler knows about an engine endpoint from scraping it: one shape for vLLM, SGLang
 * and TGI, filled by the engine adapters in this folder and read by the scheduler plugins.
 * Values are the latest scrape; latencies are means over the last scrape interval, computed from
 * histogram deltas so they follow the engine's current behaviour, not its lifetime average.
 */

/** LoRA adapter state of an endpoint. */
export interface LoraState {
  /**
   * Adapters with requests running (vLLM `running_lora_adapters`): resident on a GPU slot. When
   * the engine exports no LoRA metrics, the adapters /v1/models lists (the best available hint).
   */
  readonly active: readonly string[];
  /** Adapters the engine can serve without a new load from storage (/v1/models); absent when unknown. */
  readonly registered?: readonly string[];
  /** Adapters with requests waiting to be scheduled. */
  readonly waiting: readonly string[];
  /** Adapter slots (vLLM `max_lora`); null when the engine does not say. */
  readonly maxLoras: number | null;
}

/** The scraped state of one endpoint. */
export interface EngineMetrics {
  /** Requests the engine is running (in its batch). */
  running: number;
  /** Requests waiting in the engine's queue. */
  waiting: number;
  /** KV cache utilisation, 0 to 1. */
  kvUsage: number;
  /** Mean time to first token over the last interval, seconds; null before any sample. */
  ttftSeconds: number | null;
  /** Mean time per output token over the last interval, seconds; null before any sample. */
  tpotSeconds: number | null;
  /** LoRA state; null for engines without LoRA. */
  lora: LoraState | null;
  /** KV block size in tokens, from vllm:cache_config_info, when known. */
  blockSize: number | null;
  /** When the last successful scrape finished (ms since epoch); 0 before the first. */
  scrapedAt: number;
  /**
   * True when the latest scrapes failed or are too old to trust. Metric-based scorers give a
   * stale endpoint their lowest score; the in-flight count (kept by the data plane) still counts.
   */
  stale: boolean;
  /** Why the last scrape failed, for the debug dump. */
  lastError: string | null;
}

/** The state of an endpoint nobody has scraped yet: stale, zeroes. */
export function unknownMetrics(): EngineMetrics {
  return { running: 0, waiting: 0, kvUsage: 0, ttftSeconds: null, tpotSeconds: null, lora: null, blockSize: null, scrapedAt: 0, stale: true, lastError: null };
}
