/**
 * The scheduler framework's contracts. A profile runs filters (which narrow the candidates), then
 * scorers (each writes a score in [0,1] per candidate; the profile combines them as a weighted
 * sum), then a picker (which orders the best candidates). Everything is synchronous and reads
 * state kept up to date elsewhere: scraped engine metrics and in-flight counts on each Endpoint,
 * the prefix index. Plugins write into preallocated arrays and allocate nothing per endpoint.
 */
import type { Endpoint } from '../proxy/endpoint-registry';
import type { PrefixHashes } from './prefix-hashes';
import type { TokenizerSpec } from '../../shared/config/kv-events-annotations';
import type { RequestTokenizer } from '../tokenizer/request-tokenizer';

/** What a plugin may read about a request. Built once per request by the traffic path. */
export interface SchedulingRequest {
  /** The `model` of the request. */
  readonly model: string;
  /** The LoRA adapter requested, or null for a base-model request. */
  readonly lora: string | null;
  /**
   * Block hashes of the prompt (prompt, messages or input), computed on first use per block size;
   * also the request's token ids (the engine's, when a tokenizer is configured) and their block hashes.
   */
  readonly hashes: PrefixHashes;
}

/** A source of randomness in [0,1); seeded in tests for determinism. */
export type Random = () => number;

/** Narrows the candidates: sets `keep[i] = 0` for endpoints to drop. Never sets a 0 back to 1. */
export interface FilterPlugin {
  readonly type: string;
  readonly name: string;
  filter(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array): void;
}

/** Scores candidates: writes `out[i]` in [0,1] for every i with `keep[i] === 1`. Higher is better. */
export interface ScorerPlugin {
  readonly type: string;
  readonly name: string;
  score(req: SchedulingRequest, endpoints: readonly Endpoint[], keep: Uint8Array, out: Float64Array): void;
}

/**
 * Orders candidates: writes indexes into `order` (best first, at most `order.length`) and returns
 * how many it wrote. Only endpoints with `keep[i] === 1` may appear.
 */
export interface PickerPlugin {
  readonly type: string;
  readonly name: string;
  /** How many endpoints the picker returns as its choice (the first serves). */
  readonly maxNumOfEndpoints: number;
  pick(endpoints: readonly Endpoint[], keep: Uint8Array, total: Float64Array, order: Int32Array): number;
}

/** A profile as the framework runs it. */
export interface Profile {
  readonly name: string;
  readonly filters: readonly FilterPlugin[];
  readonly scorers: readonly { plugin: ScorerPlugin; weight: number }[];
  readonly picker: PickerPlugin;
}

/** Chooses which profile(s) run for a request. */
export interface ProfileHandlerPlugin {
  readonly type: string;
  readonly name: string;
  /** The profile that decides the target endpoint. */
  primary(req: SchedulingRequest, profiles: readonly Profile[]): Profile;
  /** PD handlers: the profile that ranks pods of one role; others use `primary` for both. */
  forRole?(role: 'prefill' | 'decode', req: SchedulingRequest, profiles: readonly Profile[]): Profile;
}

/** Any plugin instance. */
export type AnyPlugin = FilterPlugin | ScorerPlugin | PickerPlugin | ProfileHandlerPlugin;

/**
 * What the engines' KV events say, as the precise prefix scorer reads it (implemented by the data
 * plane's SchedulerEnv over the event hub and block index).
 */
export interface KvEventsView {
  /**
   * The KV block size (tokens) an endpoint's events report, or 0 when its events are not live
   * (never published, cleared after an unrepaired gap, not subscribed): its index cannot be trusted.
   */
  liveBlockSize(endpointId: number): number;
  /**
   * Counts, per endpoint id, how many leading blocks of `hashes` (chain hashes of `blockSize`-token
   * blocks) it holds: `runs[id]` must be 0 on entry for every id the caller reads.
   */
  match(blockSize: number, hashes: Float64Array, runs: Int32Array): void;
  /** The largest block size any pod reports, 0 before the first event. */
  maxBlockSize(): number;
}

/** Shared state plugins may use, owned by the data plane and kept across snapshots. */
export interface PluginEnv {
  readonly random: Random;
  /** Prefix indexes by hash block size, shared by every prefix scorer with that block size. */
  prefixIndex(blockSize: number): import('./prefix-index').PrefixIndex;
  /** Engine KV events; null where none are kept (tests, tools). */
  readonly kvEvents?: KvEventsView | null;
  /** The tokenizer for a server's spec (shared by servers with the same spec); absent in tests and tools. */
  tokenizer?(spec: TokenizerSpec): RequestTokenizer;
}
