/* Types shared by the engine, the HTTP layer and the metrics renderer. */
import type { EngineFlavour } from './metrics';
import type { EngineProfile } from './profile';

/**
 * Prefill/decode disaggregation role of a pod: `prefill` pods stop every request after its first
 * token, `decode` pods take prompt KV computed elsewhere, `both` (the default) does either.
 */
export type PodRole = 'prefill' | 'decode' | 'both';

/** What the HTTP layer asks the engine to generate. */
export interface EngineRequest {
  /** Name the request used: the base model or a LoRA adapter. */
  model: string;
  /** Adapter to run with, or null for the base model. */
  lora: string | null;
  promptTokens: number[];
  /** Requested max output tokens, or null when the request gave none. */
  maxTokens: number | null;
  ignoreEos: boolean;
  /** Seed for the deterministic output (hash of the prompt). */
  seed: number;
  /**
   * The prompt was prefilled by another pod (NIXL or SGLang PD): on first admission the engine
   * allocates its blocks, waits kvTransferMsPerToken x (prompt tokens not cached here) without
   * holding up the batch, then decodes without computing a prefill.
   */
  remotePrefill?: boolean;
  /**
   * Leading full blocks of `hashes` found in an external KV store (LMCache), looked up at
   * admission; those tokens count as cached after an in-step load of kvTransferMsPerToken each.
   */
  externalCache?: (hashes: readonly string[]) => number;
  /** Keep the prompt's KV blocks after finishing, until SeqResult.heldKv is released (NIXL prefill). */
  holdKv?: boolean;
  /** Simulated arrival time when the request arrived before it was submitted (SGLang decode). */
  arrivalSim?: number;
}

/** Prompt KV blocks a finished request keeps for a decode pod to pull. */
export interface HeldKv {
  /** Block ids holding the prompt, in order. */
  blockIds: number[];
  /** Free the blocks (idempotent). */
  release(): void;
}

/** Outcome of a request, times in simulated ms. */
export interface SeqResult {
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prefix cache on first admission. */
  cachedTokens: number;
  queueMs: number;
  ttftMs: number;
  e2eMs: number;
  loraLoadMs: number;
  preemptions: number;
  text: string;
  /** Prompt tokens whose KV came from another pod or an external store. */
  kvTransferTokens: number;
  /** Simulated ms spent moving that KV. */
  kvTransferMs: number;
  /** Set when the engine gave up on the request (it could never be scheduled). */
  error?: string;
  /** The prompt's blocks, kept when the request asked for holdKv and finished normally. */
  heldKv?: HeldKv;
}

/** Callbacks for one request; called synchronously from the scheduler. */
export interface SeqEvents {
  /** `last` is true for the final token; onFinish follows synchronously. */
  onToken(piece: string, index: number, last: boolean): void;
  onFinish(result: SeqResult): void;
  /** The prompt's KV is in place (just before the first token); `hashes` are its full blocks. */
  onPrefilled?(hashes: readonly string[]): void;
  /** KV of `tokens` prompt tokens arrived from elsewhere (remote prefill or external store). */
  onKvLoaded?(tokens: number): void;
}

/** State of the engine for /sim/state and /metrics. */
export interface EngineSnapshot {
  pod: string;
  namespace: string;
  role: PodRole;
  /** PD group (the pdGroup.groupKey label value), or null. */
  group: string | null;
  flavour: EngineFlavour;
  modelName: string;
  running: number;
  waiting: number;
  maxNumSeqs: number;
  /** Sum over running sequences of prompt + max output tokens (TGI's batch max tokens). */
  batchMaxTokens: number;
  kv: { blockSize: number; numGpuBlocks: number; usedBlocks: number; cachedBlocks: number; usage: number; evictions: number };
  loras: {
    max: number;
    registered: string[];
    resident: string[];
    running: string[];
    waiting: string[];
    loads: number;
    evictions: number;
  };
}

/** Static configuration of one engine. */
export interface EngineConfig {
  pod: string;
  namespace: string;
  role: PodRole;
  /** PD group (the pdGroup.groupKey label value); none when unset. */
  group?: string | null;
  flavour: EngineFlavour;
  modelName: string;
  loras: readonly string[];
  profile: EngineProfile;
  timeScale: number;
}
