/**
 * Engine profile: every knob of the simulated inference engine, with defaults
 * that resemble a 7B model (GQA, e.g. Qwen2-7B / DeepSeek-R1-Distill-Qwen-7B)
 * served by vLLM on a single GPU.
 *
 * Why these defaults:
 * - maxNumSeqs 256, maxNumBatchedTokens 8192, blockSize 16: vLLM's own
 *   defaults (V1 engine, chunked prefill on, CUDA block size 16).
 * - numGpuBlocks 16384 (= 262,144 tokens): a GQA 7B needs
 *   2 (K,V) x 28 layers x 4 kv-heads x 128 dim x 2 bytes = 56 KiB per token, so
 *   ~14 GiB of KV memory (a 24-48 GB card after weights and activations) holds
 *   ~256k tokens, inside the 100k-400k range vLLM logs for such setups.
 * - maxModelLen 32768: the context most 7B deployments are started with.
 * - prefillOverheadMs 10 + prefillMsPerToken 0.15: ~6.7k prompt tokens/s, so a
 *   1k-token prompt has TTFT ~160 ms on an idle engine, as measured on A10/L4
 *   class hardware for 7B models.
 * - decodeBaseMs 12 + decodeMsPerSeq 0.08: one decode step is memory-bound
 *   (weights read once per step, ~12 ms) plus a small per-sequence cost
 *   (KV reads, sampling): ITL 12 ms alone, ~32 ms at 256 running sequences.
 * - decodeMsPerContextToken 0: off by default. Decode attention reads every
 *   context token's KV once per step, so with long contexts a step's cost grows
 *   with the tokens held by the batch, not only with its size; a benchmark that
 *   compares short and long prompts on one profile sets it (56 KiB per token
 *   read at ~1.5-2.5 TB/s is ~0.00002-0.00004 ms per token).
 * - streamInterval 1: one SSE chunk per token, as vLLM and SGLang send by
 *   default. N > 1 works like SGLang's --stream-interval N: the first token is
 *   sent at once (TTFT is unchanged), later tokens in chunks of N (the last
 *   chunk when the sequence ends). Scheduling and timing do not change, only how
 *   many chunks go on the wire, which lets a benchmark on a small machine stream
 *   hundreds of thousands of simulated tokens per second.
 * - kvTransferMsPerToken 0.002: prefill/decode disaggregation moves a prompt's KV from the prefill
 *   pod to the decode pod (NIXL/Mooncake over RDMA, or loading it from an LMCache store). The
 *   7B GQA profile holds 56 KiB per token; at ~28 GB/s (a 200-400 Gb/s RDMA NIC at realistic
 *   efficiency) that is 0.002 ms per token: 2 ms for a 1k-token prompt, 32 ms for 16k. Over
 *   plain TCP (~10 Gb/s) it would be ~0.05.
 * - lmcacheStoreBlocks 16384: the LMCache store a PD group shares (CPU RAM or a remote store)
 *   keeps the 16,384 most recently published blocks (262,144 tokens, ~14 GiB for this model:
 *   as large as the GPU pool), evicting the least recently used.
 * - maxLoras 4, loraLoadMs 100: vLLM's --max-loras default is 1, routers are
 *   usually tested with a handful; 100 ms is a rank-16 adapter read from local
 *   disk and copied to the GPU.
 *
 * All times are simulated milliseconds; the simulator divides them by its
 * timeScale to get wall-clock delays.
 */
export interface EngineProfile {
  /** Max sequences running in one batch (vLLM --max-num-seqs). */
  maxNumSeqs: number;
  /** Token budget of one scheduler step for new prefills (vLLM --max-num-batched-tokens). */
  maxNumBatchedTokens: number;
  /** Tokens per KV-cache block (vLLM --block-size). */
  blockSize: number;
  /** KV-cache blocks on the GPU (vLLM's num_gpu_blocks). */
  numGpuBlocks: number;
  /** Max prompt + completion tokens of one request (vLLM --max-model-len). */
  maxModelLen: number;
  /** Prefill cost per uncached prompt token, ms. */
  prefillMsPerToken: number;
  /** Fixed cost of one request's prefill, ms. */
  prefillOverheadMs: number;
  /** Fixed cost of one decode step, ms. */
  decodeBaseMs: number;
  /** Extra decode-step cost per running sequence, ms. */
  decodeMsPerSeq: number;
  /** Extra decode-step cost per context token (prompt + generated) of each decoding sequence, ms. */
  decodeMsPerContextToken: number;
  /** Output tokens per streamed chunk after the first token, which is always sent at once. */
  streamInterval: number;
  /** Cost of moving one prompt token's KV between pods (PD disaggregation), ms. */
  kvTransferMsPerToken: number;
  /** Blocks the LMCache store shared by a PD group keeps (LRU). */
  lmcacheStoreBlocks: number;
  /** LoRA adapters resident on the GPU at once (vLLM --max-loras). */
  maxLoras: number;
  /** Cost of bringing a non-resident adapter onto the GPU, ms. */
  loraLoadMs: number;
}

/** The defaults explained in this file's header comment. */
export const DEFAULT_PROFILE: Readonly<EngineProfile> = Object.freeze({
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  blockSize: 16,
  numGpuBlocks: 16384,
  maxModelLen: 32768,
  prefillMsPerToken: 0.15,
  prefillOverheadMs: 10,
  decodeBaseMs: 12,
  decodeMsPerSeq: 0.08,
  decodeMsPerContextToken: 0,
  streamInterval: 1,
  kvTransferMsPerToken: 0.002,
  lmcacheStoreBlocks: 16384,
  maxLoras: 4,
  loraLoadMs: 100,
});

/** Profile keys that must be positive integers (the rest are non-negative reals). */
const INTEGER_KEYS: ReadonlySet<keyof EngineProfile> = new Set<keyof EngineProfile>([
  'maxNumSeqs',
  'maxNumBatchedTokens',
  'blockSize',
  'numGpuBlocks',
  'maxModelLen',
  'streamInterval',
  'lmcacheStoreBlocks',
  'maxLoras',
]);

/** True when `key` names a field of EngineProfile. */
export function isProfileKey(key: string): key is keyof EngineProfile {
  return Object.prototype.hasOwnProperty.call(DEFAULT_PROFILE, key);
}

/**
 * Merge `overrides` over the defaults and validate the result.
 * Throws an Error naming the first bad field; unknown keys are rejected so
 * typos in config files do not silently fall back to defaults.
 */
export function resolveProfile(overrides: Partial<EngineProfile> = {}): EngineProfile {
  const out: EngineProfile = { ...DEFAULT_PROFILE };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!isProfileKey(key)) throw new Error(`unknown engine profile field "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`profile field "${key}" must be a finite number`);
    }
    if (INTEGER_KEYS.has(key) ? !Number.isInteger(value) || value < 1 : value < 0) {
      throw new Error(
        `profile field "${key}" must be ${INTEGER_KEYS.has(key) ? 'a positive integer' : 'non-negative'}`,
      );
    }
    out[key] = value;
  }
  return out;
}
