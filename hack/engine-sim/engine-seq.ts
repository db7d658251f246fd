/**
 * One request inside the engine (a sequence): its state, how long it may run, and what it
 * reports when it ends. Kept apart from engine.ts, which schedules sequences.
 */
import type { EngineRequest, HeldKv, SeqEvents, SeqResult } from './engine-types';
import { blockHashes, type KvAllocation } from './kv-cache';
import type { FinishedRequestStats } from './metrics';
import { naturalLength, OutputText } from './output-text';

/** A request's life in the engine; times in simulated ms (-1 = not yet). */
export interface Seq {
  id: number;
  req: EngineRequest;
  events: SeqEvents;
  output: OutputText;
  /** Prompt + generated token ids; the prompt a preempted sequence recomputes. */
  tokens: number[];
  /** Hashes of the full blocks of `tokens`, extended as tokens are appended. */
  hashes: string[];
  hashSeed: string;
  target: number;
  finishReason: 'stop' | 'length';
  generated: number;
  alloc: KvAllocation | null;
  state: 'waiting' | 'transferring' | 'running' | 'done';
  /** When a remote prefill's KV has arrived. */
  readyAtSim: number;
  /** Prompt tokens whose KV came from elsewhere, and the time that took. */
  kvTransferTokens: number;
  kvTransferMs: number;
  arrivalSim: number;
  admitSim: number;
  firstTokenSim: number;
  lastTokenSim: number;
  cachedTokens: number;
  loraLoadMs: number;
  preemptions: number;
  text: string[];
}

/** Engine settings a new sequence depends on. */
export interface SeqLimits {
  blockSize: number;
  maxModelLen: number;
  /** A prefill pod stops every sequence after its first token. */
  prefillOnly: boolean;
}

/**
 * A waiting sequence for `req`. Its length: the natural length (seeded by the prompt hash)
 * unless max_tokens is smaller or ignore_eos is set; one token on a prefill pod.
 */
export function newSeq(id: number, req: EngineRequest, events: SeqEvents, limits: SeqLimits, arrivalSim: number): Seq {
  const natural = naturalLength(req.seed);
  // Without a limit vLLM allows up to max_model_len - prompt tokens.
  const limit = req.maxTokens ?? limits.maxModelLen - req.promptTokens.length;
  let target = natural;
  let finishReason: 'stop' | 'length' = 'stop';
  if ((req.maxTokens !== null && req.ignoreEos) || natural > limit || limits.prefillOnly) {
    target = limits.prefillOnly ? 1 : limit;
    finishReason = 'length';
  }
  // Adapters get their own hash namespace so base and LoRA KV never mix.
  const hashSeed = req.lora ? `lora:${req.lora}` : '';
  return {
    id, req, events, output: new OutputText(req.model, req.seed),
    tokens: [...req.promptTokens], hashes: blockHashes(req.promptTokens, limits.blockSize, hashSeed), hashSeed,
    target, finishReason, generated: 0, alloc: null, state: 'waiting', readyAtSim: -1, kvTransferTokens: 0, kvTransferMs: 0,
    arrivalSim, admitSim: -1, firstTokenSim: -1, lastTokenSim: -1, cachedTokens: 0, loraLoadMs: 0, preemptions: 0, text: [],
  };
}

/** What an ended sequence adds to the pod's histograms and counters. */
export function finishedStats(s: Seq, nowSim: number, reason: SeqResult['finishReason'], maxModelLen: number): FinishedRequestStats {
  const started = s.admitSim >= 0 && s.firstTokenSim >= 0;
  return {
    finishReason: reason, promptTokens: s.req.promptTokens.length, completionTokens: s.generated,
    maxTokens: s.req.maxTokens ?? maxModelLen - s.req.promptTokens.length, e2eSec: (nowSim - s.arrivalSim) / 1000,
    // Arrivals between a kick and its step can be dated just after the step start.
    queueSec: started ? Math.max(0, s.admitSim - s.arrivalSim) / 1000 : undefined,
    prefillSec: started ? (s.firstTokenSim - s.admitSim) / 1000 : undefined,
    decodeSec: started ? (nowSim - s.firstTokenSim) / 1000 : undefined,
  };
}

/** The result handed to SeqEvents.onFinish. */
export function seqResult(s: Seq, nowSim: number, reason: SeqResult['finishReason'], error?: string, heldKv?: HeldKv): SeqResult {
  return {
    finishReason: reason, promptTokens: s.req.promptTokens.length, completionTokens: s.generated,
    cachedTokens: s.cachedTokens, queueMs: Math.max(0, (s.admitSim >= 0 ? s.admitSim : nowSim) - s.arrivalSim),
    ttftMs: s.firstTokenSim >= 0 ? s.firstTokenSim - s.arrivalSim : 0, e2eMs: nowSim - s.arrivalSim,
    loraLoadMs: s.loraLoadMs, preemptions: s.preemptions, text: s.text.join(''),
    kvTransferTokens: s.kvTransferTokens, kvTransferMs: s.kvTransferMs, error, heldKv,
  };
}
