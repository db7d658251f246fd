import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { ApiError } from './http-util';
import { renderChat, tokenize, type ChatMessage } from './tokenizer';

/**
 * Request parsing and response shapes of vLLM's OpenAI-compatible API
 * (/v1/completions and /v1/chat/completions). Only what a router needs is
 * modelled: a single prompt, n = 1, max_tokens / max_completion_tokens,
 * ignore_eos, stream and stream_options.include_usage; sampling parameters and
 * stop strings are accepted and ignored. Prompts are tokenized with the stand-in tokenizer
 * (tokenizer.ts) or, when the simulator runs with --tokenizer, a real one (HfTokenizer), which
 * renders chat with the model's template and encodes as vLLM does.
 */

/** Default max_tokens of /v1/completions (vLLM and OpenAI use 16). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** A validated inference request. */
export interface InferenceRequest {
  kind: 'completion' | 'chat';
  /** Requested model, or null when omitted (vLLM then uses the served model). */
  model: string | null;
  promptTokens: number[];
  /** Explicit output limit, or null (chat without a limit uses the natural length). */
  maxTokens: number | null;
  ignoreEos: boolean;
  stream: boolean;
  includeUsage: boolean;
}

function bad(message: string, param: string | null = null): ApiError {
  return new ApiError(400, 'BadRequestError', message, param);
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('request body must be a JSON object');
  return body as Record<string, unknown>;
}

function isTokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0);
}

/** Fields common to both endpoints. */
function common(o: Record<string, unknown>): Omit<InferenceRequest, 'kind' | 'promptTokens' | 'maxTokens'> & { maxTokens: number | null } {
  if (o.model !== undefined && o.model !== null && typeof o.model !== 'string') throw bad('"model" must be a string', 'model');
  if (o.n !== undefined && o.n !== null && o.n !== 1) throw bad('the engine simulator supports only n = 1', 'n');
  if (o.stream !== undefined && o.stream !== null && typeof o.stream !== 'boolean') throw bad('"stream" must be a boolean', 'stream');
  if (o.ignore_eos !== undefined && typeof o.ignore_eos !== 'boolean') throw bad('"ignore_eos" must be a boolean', 'ignore_eos');
  let maxTokens: number | null = null;
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(`"${key}" must be an integer >= 1`, key);
    maxTokens ??= v; // max_completion_tokens wins when both are given, as in vLLM
  }
  const so = o.stream_options;
  const includeUsage =
    typeof so === 'object' && so !== null && (so as Record<string, unknown>).include_usage === true;
  return {
    model: (o.model as string | undefined) ?? null,
    maxTokens,
    ignoreEos: o.ignore_eos === true,
    stream: o.stream === true,
    includeUsage,
  };
}

/**
 * Ids of a completions prompt text: vLLM adds the post-processor's special tokens unless the
 * body sets add_special_tokens to false.
 */
export function completionTokens(text: string, o: Record<string, unknown>, hf: HfTokenizer | null): number[] {
  return hf ? Array.from(hf.encode(text, o.add_special_tokens !== false)) : tokenize(text);
}

/** Validate a /v1/completions body; `hf` tokenizes when given (else the stand-in). */
export function parseCompletionRequest(body: unknown, hf: HfTokenizer | null = null): InferenceRequest {
  const o = asObject(body);
  const c = common(o);
  let p = o.prompt;
  // A batch of one prompt is accepted; real batches are not simulated.
  if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) p = p[0];
  let promptTokens: number[];
  if (typeof p === 'string' && p.length > 0) promptTokens = completionTokens(p, o, hf);
  else if (isTokenArray(p)) promptTokens = [...p];
  else if (p === undefined || p === null || p === '') throw bad('"prompt" is required', 'prompt');
  else throw bad('"prompt" must be a non-empty string or token-id array (one prompt per request)', 'prompt');
  return { kind: 'completion', ...c, maxTokens: c.maxTokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS, promptTokens };
}

/** Flatten message content: a string, or text parts (other parts become a placeholder). */
function contentText(content: unknown, i: number): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        const p = part as Record<string, unknown>;
        if (p && p.type === 'text' && typeof p.text === 'string') return p.text;
        return `<${typeof p?.type === 'string' ? p.type : 'part'}>`;
      })
      .join('');
  }
  throw bad(`messages[${i}].content must be a string or an array of parts`, 'messages');
}

/**
 * Ids of chat messages. With `hf`: the model's chat template (add_generation_prompt default true,
 * tools, chat_template_kwargs), encoded without special tokens unless add_special_tokens is set,
 * as vLLM does; otherwise the stand-in's ChatML rendering.
 */
export function chatTokens(messages: unknown[], o: Record<string, unknown>, hf: HfTokenizer | null): number[] {
  if (hf) {
    let text: string;
    try {
      text = hf.applyChatTemplate(messages as Record<string, unknown>[], {
        addGenerationPrompt: o.add_generation_prompt !== false,
        tools: Array.isArray(o.tools) ? o.tools : undefined,
        kwargs: typeof o.chat_template_kwargs === 'object' && o.chat_template_kwargs !== null
          ? o.chat_template_kwargs as Record<string, unknown> : undefined,
      });
    } catch (e) {
      throw bad((e as Error).message, 'messages');
    }
    return Array.from(hf.encode(text, o.add_special_tokens === true));
  }
  const flat: ChatMessage[] = messages.map((m: unknown, i: number) => {
    const r = m as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || typeof r.role !== 'string') {
      throw bad(`messages[${i}] must be an object with a string "role"`, 'messages');
    }
    return { role: r.role, content: contentText(r.content, i) };
  });
  return tokenize(renderChat(flat));
}

/** Validate a /v1/chat/completions body; `hf` tokenizes when given (else the stand-in). */
export function parseChatRequest(body: unknown, hf: HfTokenizer | null = null): InferenceRequest {
  const o = asObject(body);
  const c = common(o);
  if (!Array.isArray(o.messages) || o.messages.length === 0) throw bad('"messages" is required', 'messages');
  return { kind: 'chat', ...c, promptTokens: chatTokens(o.messages, o, hf) };
}

/** Token accounting as in the OpenAI usage object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Build a usage object. */
export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Identity shared by every chunk of one response. */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/** Non-stream response body; `sim` is the simulator's extra field. */
export function fullResponse(
  kind: InferenceRequest['kind'],
  m: ResponseMeta,
  text: string,
  finishReason: string,
  u: Usage,
  sim: object,
): object {
  if (kind === 'completion') {
    return {
      id: m.id, object: 'text_completion', created: m.created, model: m.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null, prompt_logprobs: null }],
      usage: u, sim,
    };
  }
  return {
    id: m.id, object: 'chat.completion', created: m.created, model: m.model,
    choices: [
      {
        index: 0, message: { role: 'assistant', content: text, tool_calls: [] }, logprobs: null,
        finish_reason: finishReason, stop_reason: null,
      },
    ],
    usage: u, prompt_logprobs: null, sim,
  };
}

/** The role-announcing first chunk vLLM sends on chat streams. */
export function chatRoleChunk(m: ResponseMeta): object {
  return {
    id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  };
}

/** One streamed token; the last carries finish_reason (and the `sim` extra field). */
export function tokenChunk(
  kind: InferenceRequest['kind'],
  m: ResponseMeta,
  piece: string,
  finishReason: string | null,
  sim?: object,
): object {
  const extra = sim ? { sim } : {};
  if (kind === 'completion') {
    return {
      id: m.id, object: 'text_completion', created: m.created, model: m.model,
      choices: [{ index: 0, text: piece, logprobs: null, finish_reason: finishReason, stop_reason: null }],
      ...extra,
    };
  }
  return {
    id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model,
    choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: finishReason }],
    ...extra,
  };
}

/** Final usage chunk sent when stream_options.include_usage is true: empty choices + usage. */
export function usageChunk(kind: InferenceRequest['kind'], m: ResponseMeta, u: Usage): object {
  return {
    id: m.id, object: kind === 'completion' ? 'text_completion' : 'chat.completion.chunk', created: m.created,
    model: m.model, choices: [], usage: u,
  };
}
