/**
 * The simulated engine of the scheduling benchmark: DeepSeek-R1-Distill-Qwen-7B served by vLLM
 * with the seed's settings (block size 128, max model len 32768, max batched tokens 65536, max
 * seqs 256, gpu-memory-utilization 0.9) on one accelerator per replica. Every number is derived
 * here so the report can print the derivation next to the results.
 *
 * The model (config.json of DeepSeek-R1-Distill-Qwen-7B = Qwen2.5-Math-7B): 28 layers, hidden 3584,
 * intermediate 18944, 28 query heads, 4 KV heads (GQA) of dim 128, vocab 152064, 7.62 B parameters
 * in bf16.
 *
 *   KV bytes per token = 2 (K,V) × 28 layers × 4 heads × 128 dim × 2 bytes = 57,344 (56 KiB)
 *   weights            = 7.62e9 × 2 bytes = 14.2 GiB
 *   activation peak    = vLLM's profiling forward pass at max_num_batched_tokens = 65536:
 *                        the MLP's gate_up output 65536 × 2 × 18944 × 2 B = 4.6 GiB plus its
 *                        activated half 2.3 GiB and the residual stream: ~7.3 GiB
 *   other              = CUDA/CANN context, graphs, allocator slack: ~1 GiB
 *   KV memory          = 0.9 × device memory − weights − activations − other
 *
 * Accelerator: the seed does not name it. Block size 128 is what vLLM on Ascend NPUs uses
 * (vllm-ascend's attention needs 128; vLLM on NVIDIA defaults to 16) and Kthena comes from the
 * Volcano community at Huawei Cloud, so the default models a 64 GB Ascend 910B-class device:
 * ~313 TFLOPS bf16 and 1.6 TB/s HBM. `--gpu-gib 80` models an 80 GB A100/H100-class card's KV
 * capacity (the costs stay those of the 64 GB device; only the cache size changes).
 *
 * Costs (simulated ms; the simulator's formulas are in hack/engine-sim/README.md). Two of them
 * are calibrated on the seed's own long-prompt table, the rest follow from the hardware:
 *   decodeMsPerContextToken  from the hardware (below); it reproduces the seed's best-row
 *                            inter-token latency, a check rather than a fit
 *   prefillMsPerToken 0.075  a prefill token costs ~2 × 7.62 GFLOP + attention ≈ 16 GFLOP. Fitted
 *                            to the seed's Random row: 11.81 req/s over 3 replicas is 254 ms of
 *                            engine time per request; decode takes 256 × 34 ms / 100 sequences =
 *                            86 ms of it, so prefill takes ~168 ms. Random's hit rate in this
 *                            simulator is ~50% (measured), i.e. ~2,140 uncached tokens per request:
 *                            0.075 ms (13.3k tokens/s, ~213 TFLOPS, 68% of a 313 TFLOPS device's
 *                            peak: large prefill batches reach that). The first-principles guess
 *                            of ~43% (0.12 ms) gave a smaller gap between rows (see
 *                            docs/performance.md); `--profile` overrides any field.
 *   prefillOverheadMs 5      per admitted request: scheduling, sampling the first token and
 *                            detokenising (the weights are read once per step, counted in decode)
 *   decodeBaseMs 12          a decode step reads the 15.2 GB of weights at ~1.28 TB/s (80% of HBM)
 *   decodeMsPerSeq 0.02      per-sequence sampling and bookkeeping
 *   decodeMsPerContextToken 0.0000448  attention reads each context token's 56 KiB of KV at
 *                            1.28 TB/s. With ~100 sequences of ~4.35k tokens (the long workload at
 *                            concurrency 300 over 3 replicas) a step is 12 + 2 + 19.5 ≈ 34 ms:
 *                            the inter-token latency the seed's best row shows ((9.22 − 0.57) s /
 *                            255 tokens = 34 ms). With 512-token contexts (short) it is ~16 ms.
 *   streamInterval 16        one SSE chunk for the first token, then one per 16 tokens (SGLang's
 *                            --stream-interval): 17 chunks instead of 256 per request, so a
 *                            2-core machine can stream the run; TTFT and completion are unaffected
 */
import type { EngineProfile } from '../engine-sim/profile';

/** Inputs of the KV-cache derivation. */
export interface KvDerivation {
  deviceGiB: number;
  gpuMemoryUtilization: number;
  weightsGiB: number;
  activationGiB: number;
  otherGiB: number;
  bytesPerToken: number;
  blockSize: number;
}

/** DeepSeek-R1-Distill-Qwen-7B on a 64 GiB device, as explained in the file header. */
export const KV_DERIVATION: KvDerivation = {
  deviceGiB: 64,
  gpuMemoryUtilization: 0.9,
  weightsGiB: (7.62e9 * 2) / 2 ** 30,
  activationGiB: 7.3,
  otherGiB: 1,
  bytesPerToken: 2 * 28 * 4 * 128 * 2,
  blockSize: 128,
};

/** KV memory, tokens and blocks per replica for a derivation. */
export function kvCapacity(d: KvDerivation): { kvGiB: number; tokens: number; blocks: number } {
  const kvGiB = d.deviceGiB * d.gpuMemoryUtilization - d.weightsGiB - d.activationGiB - d.otherGiB;
  if (!(kvGiB > 0)) throw new Error(`no memory left for the KV cache on a ${d.deviceGiB} GiB device`);
  const blocks = Math.floor((kvGiB * 2 ** 30) / d.bytesPerToken / d.blockSize);
  return { kvGiB, tokens: blocks * d.blockSize, blocks };
}

/** The engine profile for a device of `deviceGiB` (64 by default). */
export function schedulingProfile(deviceGiB = KV_DERIVATION.deviceGiB): Partial<EngineProfile> {
  const { blocks } = kvCapacity({ ...KV_DERIVATION, deviceGiB });
  return {
    maxNumSeqs: 256,
    maxNumBatchedTokens: 65536,
    blockSize: 128,
    numGpuBlocks: blocks,
    maxModelLen: 32768,
    prefillMsPerToken: 0.075,
    prefillOverheadMs: 5,
    decodeBaseMs: 12,
    decodeMsPerSeq: 0.02,
    decodeMsPerContextToken: 57344 / 1.28e9, // ms per token: bytes ÷ (1.28 TB/s in bytes per ms)
    streamInterval: 16,
  };
}

/**
 * Whether a replica's cache holds the prefixes it is sent: the working set of a replica that sees
 * `groupsPerReplica` groups, against its KV capacity, with `running` sequences each holding their
 * own blocks (question + output) besides the shared prefix.
 */
export function workingSet(groupsPerReplica: number, systemTokens: number, running: number, privateTokens: number): number {
  return groupsPerReplica * systemTokens + running * privateTokens;
}
