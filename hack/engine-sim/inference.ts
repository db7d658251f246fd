import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import type { Engine, SeqResult } from './engine';
import type { FaultInjector, FaultRule } from './faults';
import { ApiError, delay, errorBody, errorTypeFor, parseJson, sendError, sendJson } from './http-util';
import {
  chatRoleChunk,
  fullResponse,
  parseChatRequest,
  parseCompletionRequest,
  tokenChunk,
  usage,
  usageChunk,
  type InferenceRequest,
  type ResponseMeta,
} from './openai-api';
import type { PdPeer } from './pd-peer';
import { planPd, PdRejection, type PdPlan } from './pd-protocol';
import { hashTokens } from './tokenizer';

/** What the inference handler needs from its pod. */
export interface InferenceContext {
  podName: string;
  baseModel: string;
  engine: Engine;
  faults: FaultInjector;
  /** This pod as the prefill/decode registries see it. */
  pd: PdPeer;
  /** Real tokenizer (--tokenizer); absent or null: the stand-in tokenizer. */
  tokenizer?: HfTokenizer | null;
}

/** The simulator's extra `sim` field: where and how a request was served (simulated ms). */
function simInfo(podName: string, r: SeqResult, plan: PdPlan): object {
  const ms = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    pod: podName,
    prefix_cache_hit_tokens: r.cachedTokens,
    queue_ms: ms(r.queueMs),
    ttft_ms: ms(r.ttftMs),
    e2e_ms: ms(r.e2eMs),
    lora_load_ms: ms(r.loraLoadMs),
    preemptions: r.preemptions,
    // How the prompt's KV got here: nixl, sglang or lmcache (null: computed here), and what that cost.
    kv_protocol: plan.kind === 'prefill' ? null : plan.protocol,
    kv_transfer_tokens: r.kvTransferTokens,
    kv_transfer_ms: ms(r.kvTransferMs),
  };
}

/**
 * Apply the fault rule's pre-response effects. Returns false when the request
 * has been fully handled (held until the client left, dropped, or answered).
 */
async function applyFault(
  ctx: InferenceContext,
  fault: FaultRule,
  req: IncomingMessage,
  res: ServerResponse,
  closed: AbortSignal,
): Promise<boolean> {
  const c = ctx.engine.stats.counters;
  if (fault.delayMs) {
    ctx.faults.held++;
    try {
      if (!(await delay(fault.delayMs, closed))) return false;
    } finally {
      ctx.faults.held--;
    }
  }
  if (fault.dropConnection && fault.afterTokens === undefined) {
    c.faultsInjected++;
    req.socket.destroy();
    return false;
  }
  if (fault.status !== undefined) {
    c.faultsInjected++;
    const headers: Record<string, string> = {};
    if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
    const msg = fault.message ?? `Simulated fault: HTTP ${fault.status} injected via /sim/faults`;
    sendJson(res, fault.status, errorBody(fault.status, errorTypeFor(fault.status), msg), headers);
    return false;
  }
  return true;
}

/** Parse, validate and resolve the model (base or registered LoRA) of a request. */
function prepare(
  ctx: InferenceContext,
  kind: InferenceRequest['kind'],
  body: Buffer,
): { r: InferenceRequest; model: string; json: Record<string, unknown> } {
  const json = parseJson(body);
  const hf = ctx.tokenizer ?? null;
  const r = kind === 'chat' ? parseChatRequest(json, hf) : parseCompletionRequest(json, hf);
  const model = r.model ?? ctx.baseModel;
  if (model !== ctx.baseModel && !ctx.engine.lora.isRegistered(model)) {
    throw new ApiError(404, 'NotFoundError', `The model \`${model}\` does not exist.`, 'model');
  }
  const tooLong = ctx.engine.checkFits(r.promptTokens.length, r.maxTokens);
  if (tooLong) throw new ApiError(400, 'BadRequestError', tooLong);
  // The parsers accepted it, so it is a JSON object.
  return { r, model, json: json as Record<string, unknown> };
}

/**
 * Serve POST /v1/completions or /v1/chat/completions: faults first, then
 * validation, then the engine; streams are written token by token as the
 * scheduler produces them.
 */
export async function handleInference(
  ctx: InferenceContext,
  kind: InferenceRequest['kind'],
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  closed: AbortSignal,
): Promise<void> {
  const counters = ctx.engine.stats.counters;
  counters.requestsReceived++;
  const fault = ctx.faults.take();
  if (fault && !(await applyFault(ctx, fault, req, res, closed))) return;

  const arrivalSim = ctx.engine.clock.now();
  let r: InferenceRequest;
  let model: string;
  let promptHash: number;
  let plan: PdPlan | null;
  try {
    const prepared = prepare(ctx, kind, body);
    ({ r, model } = prepared);
    promptHash = hashTokens(r.promptTokens);
    // Prefill/decode protocols; an SGLang decode request waits here for its room.
    plan = await planPd(ctx.pd, { body: prepared.json, raw: body, r, model, promptHash, arrivalSim }, closed);
  } catch (e) {
    counters.requestsRejected++;
    if (e instanceof PdRejection) ctx.engine.stats.pd.rejections[e.reason]++;
    sendError(res, e);
    return;
  }
  if (!plan) return; // the client left while it waited
  const pd = plan;
  // Called exactly once: with the result, or null when the request ends without one.
  let ended = false;
  const end = (result: SeqResult | null): Record<string, unknown> | undefined => {
    if (ended) return undefined;
    ended = true;
    return pd.end?.(result);
  };
  res.setHeader('x-sim-model', model);
  const meta: ResponseMeta = {
    id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
  // A drop rule with afterTokens is applied from the token callback below.
  const dropAfter = fault?.dropConnection ? fault.afterTokens : undefined;
  const write = (obj: object): void => {
    res.write(`data: ${JSON.stringify(obj)}\n\n`);
  };
  let done = false;
  // Pieces not yet written: the first token goes out at once, later ones every streamInterval tokens.
  let pending = '';
  let pendingCount = 0;
  const interval = ctx.engine.cfg.profile.streamInterval;
  let handle: { abort: () => void } | null = null;
  const drop = (): void => {
    done = true;
    counters.faultsInjected++;
    handle?.abort();
    end(null);
    res.destroy();
  };

  // Streams send headers at once, as vLLM does, so TTFT seen by a client is
  // the time to the first token chunk, not to the headers.
  if (r.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (kind === 'chat') write(chatRoleChunk(meta));
    if (dropAfter === 0) return drop();
  } else if (dropAfter === 0) {
    return drop();
  }

  // The prompt hash seeds the output text and natural length: same prompt, same answer.
  handle = ctx.engine.submit(
    {
      model, lora: model === ctx.baseModel ? null : model, promptTokens: r.promptTokens, maxTokens: r.maxTokens,
      ignoreEos: r.ignoreEos, seed: promptHash, ...pd.request,
    },
    {
      onPrefilled: pd.onPrefilled,
      onKvLoaded: pd.onKvLoaded,
      onToken: (piece, index, last) => {
        if (dropAfter !== undefined && index + 1 >= dropAfter) return drop();
        if (!r.stream) return;
        pending += piece;
        pendingCount++;
        // The final token goes out with finish_reason, written by onFinish right after.
        if (last || (index > 0 && pendingCount < interval)) return;
        write(tokenChunk(kind, meta, pending, null));
        pending = '';
        pendingCount = 0;
      },
      onFinish: (result) => {
        done = true;
        const extra = end(result);
        const u = usage(result.promptTokens, result.completionTokens);
        if (result.error) {
          if (!r.stream) return sendJson(res, 500, errorBody(500, 'InternalServerError', result.error));
          write(errorBody(500, 'InternalServerError', result.error));
          res.end('data: [DONE]\n\n');
          return;
        }
        if (!r.stream) {
          sendJson(res, 200, { ...fullResponse(kind, meta, result.text, result.finishReason, u, simInfo(ctx.podName, result, pd)), ...extra });
          return;
        }
        write(tokenChunk(kind, meta, pending, result.finishReason, simInfo(ctx.podName, result, pd)));
        if (r.includeUsage) write(usageChunk(kind, meta, u));
        res.end('data: [DONE]\n\n');
      },
    },
  );
  // Client gone before the end: free the sequence's slot and KV blocks.
  const leave = (): void => {
    if (done) return;
    handle?.abort();
    end(null);
  };
  if (closed.aborted) leave();
  else closed.addEventListener('abort', leave, { once: true });
}
