/**
 * The input-token estimate charged to a rate limit before a request is sent: the engine's
 * tokenizer is not known to the router, so it is ceil(prompt characters / 4), OpenAI's rule of
 * thumb for English text, at least 1. Prompts given as token ids count exactly. The estimate is
 * corrected from the response's `usage.prompt_tokens` once the answer ends.
 */
import { promptText } from '../scheduler/prompt-text';

/** Estimated prompt tokens of a parsed request body. */
export function estimateInputTokens(body: Record<string, unknown>): number {
  const { prompt } = body;
  if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === 'number') return prompt.length;
  if (Array.isArray(prompt) && Array.isArray(prompt[0])) return prompt.reduce((n: number, p: unknown) => n + (Array.isArray(p) ? p.length : 0), 0);
  return Math.max(1, Math.ceil(promptText(body).length / 4));
}
