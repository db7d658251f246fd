/**
 * POST /tokenize as vLLM serves it: TokenizeCompletionRequest `{model?, prompt, add_special_tokens
 * (default true)}` or TokenizeChatRequest `{model?, messages, add_generation_prompt (default true),
 * add_special_tokens (default false), tools?, chat_template_kwargs?}`, answered with
 * `{count, max_model_len, tokens}`. The ids are exactly those the pod's inference path uses for
 * the same prompt (the stand-in tokenizer, or the --tokenizer one), so a router asking /tokenize
 * sees the ids the simulated prefix cache hashes.
 */
import type { ServerResponse } from 'node:http';
import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { ApiError, parseJson, sendJson } from './http-util';
import { chatTokens, completionTokens } from './openai-api';

/** What the endpoint needs from its pod. */
export interface TokenizeContext {
  baseModel: string;
  /** The base model or a registered adapter. */
  isKnownModel(name: string): boolean;
  maxModelLen: number;
  tokenizer: HfTokenizer | null;
}

/** Serve one /tokenize request; throws ApiError (400/404) on a bad body. */
export function handleTokenize(res: ServerResponse, ctx: TokenizeContext, raw: Buffer): void {
  const body = parseJson(raw);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'BadRequestError', 'request body must be a JSON object');
  }
  const o = body as Record<string, unknown>;
  if (o.model !== undefined && o.model !== null) {
    if (typeof o.model !== 'string') throw new ApiError(400, 'BadRequestError', '"model" must be a string', 'model');
    if (!ctx.isKnownModel(o.model)) throw new ApiError(404, 'NotFoundError', `The model \`${o.model}\` does not exist.`, 'model');
  }
  for (const k of ['add_special_tokens', 'add_generation_prompt']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new ApiError(400, 'BadRequestError', `"${k}" must be a boolean`, k);
  }
  let tokens: number[];
  if (o.messages !== undefined) {
    if (!Array.isArray(o.messages)) throw new ApiError(400, 'BadRequestError', '"messages" must be a list', 'messages');
    tokens = chatTokens(o.messages, o, ctx.tokenizer);
  } else if (typeof o.prompt === 'string') {
    tokens = completionTokens(o.prompt, o, ctx.tokenizer);
  } else {
    throw new ApiError(400, 'BadRequestError', 'either "prompt" (a string) or "messages" is required', o.prompt === undefined ? null : 'prompt');
  }
  sendJson(res, 200, { count: tokens.length, max_model_len: ctx.maxModelLen, tokens });
}
