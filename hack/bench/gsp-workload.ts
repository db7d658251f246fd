/**
 * The generated-shared-prefix workload of SGLang's bench_serving (`--dataset-name
 * generated-shared-prefix`), rebuilt deterministically for the engine simulator.
 *
 * bench_serving (python/sglang/bench_serving.py, sample_generated_shared_prefix_requests) makes
 * `gsp-num-groups` random system prompts of `gsp-system-prompt-len` tokens and, per group,
 * `gsp-prompts-per-group` random questions of `gsp-question-len` tokens; every request is
 * `system_prompt + "\n\n" + question` with a fixed output of `gsp-output-len` tokens (ignore_eos),
 * and the requests of all groups are shuffled. Its defaults are 64 groups × 16 prompts, 2048-token
 * system prompts, 128-token questions and 256 output tokens; the seed's runs change the groups
 * (256 × 32) and the system prompt (4096 long, 256 short) and keep the question and output lengths.
 * Arrivals are a Poisson process at the request rate (bench_serving's get_request), the first at 0.
 *
 * Token counts: the simulator's tokenizer (hack/engine-sim/tokenizer.ts) makes one token of
 * optional leading whitespace plus up to 6 letters, so a word " abcd" is exactly one token. Prompts
 * are built from such words (2–5 random letters after a space, 4.5 characters per token on
 * average, about what BPE gives on English), and the "\n\n" between system prompt and question
 * folds into the question's first token: a request has exactly system + question tokens, and every
 * request of a group shares its first `systemTokens` tokens (and ~4.5 × that many characters) with
 * the group's other requests and nothing with other groups'.
 *
 * Under a real tokenizer (the simulator's `--tokenizer`, a Hugging Face BPE) random letters are
 * not one token each, so prompts are drawn instead from a vocabulary of words that are exactly one
 * token after a space under both tokenizers (gsp-vocabulary.ts), still one word per token. A BPE
 * pre-tokenizer splits before every " word", so a prompt of n such words is n tokens; but it keeps
 * "\n\n" a token of its own (Qwen: "ĊĊ"), so the question then has one word fewer and the
 * separator counts as its first token: a request is again exactly system + question tokens, and
 * its first `systemTokens` tokens are its group's system prompt.
 */
import { mulberry32 } from '../../shared/util/random';

export { mulberry32 };

/** Shape of one workload. */
export interface GspSpec {
  /** Number of groups (distinct system prompts). */
  groups: number;
  /** Requests per group. */
  perGroup: number;
  /** Tokens of each group's system prompt. */
  systemTokens: number;
  /** Tokens of each request's own question. */
  questionTokens: number;
  /** Output tokens of every request (max_tokens with ignore_eos). */
  outputTokens: number;
  /** Seed of everything random: prompts, questions, order and arrivals. */
  seed: number;
}

/** bench_serving's defaults for what the seed does not set. */
export const GSP_QUESTION_TOKENS = 128;
export const GSP_OUTPUT_TOKENS = 256;

/** The seed's two scenarios: 256 groups × 32 requests, 4096- or 256-token system prompts. */
export const WORKLOADS = {
  long: { groups: 256, perGroup: 32, systemTokens: 4096, questionTokens: GSP_QUESTION_TOKENS, outputTokens: GSP_OUTPUT_TOKENS, seed: 1 },
  short: { groups: 256, perGroup: 32, systemTokens: 256, questionTokens: GSP_QUESTION_TOKENS, outputTokens: GSP_OUTPUT_TOKENS, seed: 1 },
} as const satisfies Record<string, GspSpec>;

export type WorkloadName = keyof typeof WORKLOADS;

/** One request of the workload, in sending order. */
export interface GspRequest {
  /** Group index, 0-based. */
  group: number;
  /** Index of the request within its group. */
  index: number;
  /** The request's question (starts with a space; tokens = questionTokens, less the separator's under a real tokenizer). */
  question: string;
}

/** A generated workload. */
export interface GspWorkload {
  spec: GspSpec;
  /** System prompt of each group (tokens = systemTokens). */
  systemPrompts: string[];
  /** Every request, shuffled: the order they are sent in. */
  requests: GspRequest[];
}


const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** `tokens` words of 2–5 random letters, each after a space: exactly `tokens` simulator tokens. */
export function randomWords(tokens: number, rand: () => number): string {
  const parts: string[] = new Array(tokens);
  for (let i = 0; i < tokens; i++) {
    const len = 2 + Math.floor(rand() * 4);
    let w = ' ';
    for (let j = 0; j < len; j++) w += LETTERS[Math.floor(rand() * 26)];
    parts[i] = w;
  }
  return parts.join('');
}

/**
 * Words for a real tokenizer: each exactly one token after a space, and what the "\n\n" between
 * system prompt and question costs on its own.
 */
export interface Vocabulary {
  /** Words without their leading space (at least 2, all distinct). */
  words: string[];
  /** Tokens of "\n\n" between two words: 0 when it folds into the next word (stand-in), 1 for Qwen's BPE. */
  separatorTokens: number;
}

/** `tokens` words drawn from `words` (seeded), each after a space: exactly `tokens` tokens. */
export function vocabularyWords(tokens: number, rand: () => number, words: readonly string[]): string {
  const parts: string[] = new Array(tokens);
  for (let i = 0; i < tokens; i++) parts[i] = ` ${words[Math.floor(rand() * words.length)]!}`;
  return parts.join('');
}

/** Checks a spec (and the vocabulary, if any) and throws naming the bad field. */
export function validateSpec(s: GspSpec, vocabulary?: Vocabulary): void {
  for (const k of ['groups', 'perGroup', 'systemTokens', 'questionTokens', 'outputTokens'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`workload ${k} must be a positive whole number, got ${s[k]}`);
  }
  if (!Number.isInteger(s.seed)) throw new Error(`workload seed must be a whole number, got ${s.seed}`);
  if (!vocabulary) return;
  if (vocabulary.words.length < 2 || vocabulary.words.some((w) => !/^\S+$/.test(w))) throw new Error('vocabulary: expected at least 2 words without spaces');
  if (!(Number.isInteger(vocabulary.separatorTokens) && vocabulary.separatorTokens >= 0 && vocabulary.separatorTokens < s.questionTokens)) {
    throw new Error(`vocabulary separatorTokens must be a whole number from 0 to questionTokens − 1 (${s.questionTokens - 1}), got ${vocabulary.separatorTokens}`);
  }
}

/**
 * Builds the workload: system prompts in group order, then questions in (group, index) order, then
 * a Fisher–Yates shuffle of the requests, all from one PRNG seeded with `spec.seed` (the order
 * bench_serving draws them in), so the same spec always gives the same requests in the same order.
 * Without a vocabulary the words are random letters (the simulator's stand-in tokenizer); with
 * one they are drawn from it and the question leaves room for the separator's tokens.
 */
export function generateWorkload(spec: GspSpec, vocabulary?: Vocabulary): GspWorkload {
  validateSpec(spec, vocabulary);
  const rand = mulberry32(spec.seed);
  const words = vocabulary
    ? (tokens: number): string => vocabularyWords(tokens, rand, vocabulary.words)
    : (tokens: number): string => randomWords(tokens, rand);
  const questionWords = spec.questionTokens - (vocabulary?.separatorTokens ?? 0);
  const systemPrompts = Array.from({ length: spec.groups }, () => words(spec.systemTokens));
  const requests: GspRequest[] = [];
  for (let g = 0; g < spec.groups; g++) {
    for (let i = 0; i < spec.perGroup; i++) requests.push({ group: g, index: i, question: words(questionWords) });
  }
  for (let i = requests.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [requests[i], requests[j]] = [requests[j]!, requests[i]!];
  }
  return { spec, systemPrompts, requests };
}

/** The prompt of request `r`: its group's system prompt, a blank line, its question. */
export function promptOf(w: GspWorkload, r: GspRequest): string {
  return `${w.systemPrompts[r.group]}\n\n${r.question}`;
}

/**
 * Arrival times (simulated seconds) of `n` requests from a Poisson process of `rate` per second,
 * the first at 0 (bench_serving yields a request, then sleeps an exponential interval). Its own
 * PRNG stream, so changing the rate never changes the prompts.
 */
export function poissonArrivals(n: number, rate: number, seed: number): Float64Array {
  if (!(rate > 0)) throw new Error(`rate must be positive, got ${rate}`);
  const rand = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  const out = new Float64Array(n);
  for (let i = 1; i < n; i++) out[i] = out[i - 1]! - Math.log(1 - rand()) / rate;
  return out;
}
