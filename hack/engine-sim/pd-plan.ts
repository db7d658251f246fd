/**
 * The shape shared by the prefill/decode protocol handlers (pd-protocol.ts, pd-nixl.ts,
 * pd-sglang.ts): what they need to know about a request, the plan they hand back to the
 * inference handler, and the 400 they throw when a router got the protocol wrong.
 */
import type { EngineRequest, SeqEvents, SeqResult } from './engine';
import { ApiError } from './http-util';
import type { InferenceRequest } from './openai-api';
import type { PdPeer } from './pd-peer';
import type { KvProtocol, KvRejectionReason } from './pd-stats';

/** A validated inference request as the PD handlers see it. */
export interface PdRequest {
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** The raw body (for integers JSON.parse cannot hold exactly). */
  raw: Buffer;
  r: InferenceRequest;
  /** Requested model: the base model or an adapter. */
  model: string;
  /** hashTokens of the prompt. */
  promptHash: number;
  /** Simulated time the request arrived at this pod. */
  arrivalSim: number;
}

/** How to run one request on this pod. */
export interface PdPlan {
  /** `plain`: an ordinary request (LMCache may still serve part of its prompt). */
  kind: 'plain' | 'prefill' | 'decode';
  /** Protocol that moved (or will move) KV for it, null when none; shown in the `sim` field. */
  protocol: KvProtocol | null;
  /** Fields added to the EngineRequest. */
  request: Pick<EngineRequest, 'remotePrefill' | 'holdKv' | 'externalCache' | 'arrivalSim'>;
  /** Engine callbacks (see SeqEvents). */
  onPrefilled?: SeqEvents['onPrefilled'];
  onKvLoaded?: SeqEvents['onKvLoaded'];
  /**
   * Called once: with the result when the engine finished, null when the client left first.
   * Returns extra top-level fields of a non-stream response (a NIXL prefill's kv_transfer_params).
   */
  end?(result: SeqResult | null): Record<string, unknown> | undefined;
}

/** A 400 for a request that broke a PD protocol; `reason` labels sim_kv_transfer_rejections_total. */
export class PdRejection extends ApiError {
  /** `param` names the offending field, as OpenAI-style errors do. */
  constructor(
    readonly reason: KvRejectionReason,
    message: string,
    param: string | null = null,
  ) {
    super(400, 'BadRequestError', message, param);
  }
}

/** What a decode request is checked against: the prefill that produced its KV. */
export interface PrefillRecord {
  prefill: PdPeer;
  model: string;
  promptTokens: number;
  promptHash: number;
}

/** Throw unless the decode request `req` asks for exactly what `rec` prefilled. */
export function checkSameRequest(rec: PrefillRecord, req: PdRequest): void {
  if (rec.model !== req.model) {
    throw new PdRejection(
      'model_mismatch',
      `the prefill on pod ${rec.prefill.name} was for model ${rec.model}, this request asks for ${req.model}`,
      'model',
    );
  }
  const n = req.r.promptTokens.length;
  if (rec.promptTokens !== n || rec.promptHash !== req.promptHash) {
    const hex = (h: number): string => h.toString(16).padStart(8, '0');
    throw new PdRejection(
      'prompt_mismatch',
      `the prompt differs from the one prefilled: pod ${rec.prefill.name} prefilled ${rec.promptTokens} tokens ` +
        `(hash ${hex(rec.promptHash)}), this request has ${n} tokens (hash ${hex(req.promptHash)})`,
      'prompt',
    );
  }
}
