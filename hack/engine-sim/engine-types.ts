/* Types shared by the engine, the HTTP layer and the metrics renderer. */
import type { EngineFlavour } from './metrics';
import type { EngineProfile } from './profile';

/** Prefill/decode disaggregation role of a pod (recorded only, for now). */
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
  /** Set when the engine gave up on the request (it could never be scheduled). */
  error?: string;
}

/** Callbacks for one request; called synchronously from the scheduler. */
export interface SeqEvents {
  /** `last` is true for the final token; onFinish follows synchronously. */
  onToken(piece: string, index: number, last: boolean): void;
  onFinish(result: SeqResult): void;
}

/** State of the engine for /sim/state and /metrics. */
export interface EngineSnapshot {
  pod: string;
  namespace: string;
  role: PodRole;
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
  flavour: EngineFlavour;
  modelName: string;
  loras: readonly string[];
  profile: EngineProfile;
  timeScale: number;
}
