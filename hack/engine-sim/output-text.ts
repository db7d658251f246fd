import { fnv1a32 } from './tokenizer';

/**
 * Deterministic generated text. The output opens with
 * "This is simulated message from <model>!" (as Kthena's mock engine does, so
 * tests can see which model answered) and continues with filler words chosen
 * by hashing (seed, position), so the same prompt always yields the same text.
 */

/** Filler words after the opening sentence; each is at most 6 letters so it stays one token. */
const FILLER: readonly string[] = [
  'the', 'engine', 'models', 'tokens', 'for', 'a', 'router', 'under', 'load',
  'with', 'batch', 'and', 'prefix', 'cache', 'reuse', 'while', 'calls',
  'wait', 'in', 'queue', 'until', 'blocks', 'are', 'free', 'so', 'delay', 'grows',
];

/** Shortest and longest natural (EOS-terminated) output, in tokens. */
export const NATURAL_MIN_TOKENS = 16;
/** See NATURAL_MIN_TOKENS. */
export const NATURAL_MAX_TOKENS = 128;

/** Output length at which the simulated model emits EOS: 16 + seed mod 113, in [16, 128]. */
export function naturalLength(seed: number): number {
  return NATURAL_MIN_TOKENS + ((seed >>> 0) % (NATURAL_MAX_TOKENS - NATURAL_MIN_TOKENS + 1));
}

/** Generates the i-th output token piece of one request. */
export class OutputText {
  private readonly intro: string[];

  /** `model` is the name the request asked for (base model or LoRA adapter). */
  constructor(
    model: string,
    private readonly seed: number,
  ) {
    // Word-sized pieces (the model name and "!" form one token) so the whole
    // sentence fits in 6 tokens, inside even the 16-token completions default.
    this.intro = `This is simulated message from ${model}!`.split(/(?= )/);
  }

  /** Text of output token `i` (0-based). */
  pieceAt(i: number): string {
    if (i < this.intro.length) return this.intro[i];
    const h = fnv1a32(String(i), this.seed);
    // Roughly one token in twelve ends a sentence, to make the text look like prose.
    if (h % 12 === 0) return '.';
    return ` ${FILLER[h % FILLER.length]}`;
  }
}
