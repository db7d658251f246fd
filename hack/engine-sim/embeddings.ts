/**
 * POST /v1/embeddings, as vLLM serves it for an embedding model: one vector per input, usage with
 * the prompt tokens. The vector is a deterministic function of the tokens (8 dimensions, unit
 * length), so equal inputs embed equally; no engine time is simulated for it.
 */
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ApiError, parseJson, sendJson } from './http-util';
import { tokenize } from './tokenizer';

const DIMS = 8;

function embed(tokens: readonly number[]): number[] {
  const v = new Array<number>(DIMS).fill(0);
  tokens.forEach((t, i) => { v[(t + i) % DIMS]! += ((t % 1000) + 1) / 1000; });
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

/** Answers an embeddings request for `baseModel`; other models get vLLM's 404. */
export function handleEmbeddings(res: ServerResponse, baseModel: string, body: Buffer): void {
  const json = parseJson(body) as { model?: unknown; input?: unknown };
  const model = typeof json.model === 'string' ? json.model : baseModel;
  if (model !== baseModel) throw new ApiError(404, 'NotFoundError', `The model \`${model}\` does not exist.`, 'model');
  const inputs = typeof json.input === 'string' ? [json.input] : Array.isArray(json.input) && json.input.every((x) => typeof x === 'string') ? json.input as string[] : null;
  if (!inputs || inputs.length === 0) throw new ApiError(400, 'BadRequestError', '`input` must be a string or a non-empty list of strings', 'input');
  let promptTokens = 0;
  const data = inputs.map((text, index) => {
    const tokens = tokenize(text);
    promptTokens += tokens.length;
    return { index, object: 'embedding', embedding: embed(tokens) };
  });
  res.setHeader('x-sim-model', model);
  sendJson(res, 200, {
    id: `embd-${randomUUID().replace(/-/g, '')}`, object: 'list', created: Math.floor(Date.now() / 1000), model, data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
  });
}
