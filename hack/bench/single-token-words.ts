/**
 * Words that are exactly one token after a space under both a real tokenizer and the engine
 * simulator's stand-in, so a benchmark can build prompts of an exact token length under either:
 * a text of such words, each preceded by one space, is one token per word under both.
 *
 * Why that holds: the stand-in makes one token of optional whitespace plus up to 6 word
 * characters, so " " + a 2–5 letter word is one token; GPT-2/Llama-3/Qwen-style pre-tokenizers
 * split " w1 w2 w3" into " w1", " w2", " w3" (a space joins the letters after it, never the word
 * before), so a word whose " word" is one vocabulary token stays one token in any such text.
 * The test checks both on a long sample.
 */
import type { HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { mulberry32 } from '../../shared/util/random';
import { tokenize as standInTokenize } from '../engine-sim/tokenizer';

/** Vocabulary entries that spell " " + 2–5 lowercase letters (byte-level "Ġ" or SentencePiece "▁"). */
const CANDIDATE = /^[Ġ▁]([a-z]{2,5})$/;

/**
 * `count` distinct lowercase ASCII words of 2–5 letters, each one token as " " + word under both
 * `tokenizer` and the stand-in, in a seeded random order (the same seed and tokenizer always give
 * the same list). Returns fewer when the vocabulary has fewer such words.
 */
export function singleTokenWords(tokenizer: HfTokenizer, count: number, seed = 1): string[] {
  const words: string[] = [];
  for (const s of tokenizer.tokenStrings()) {
    const m = CANDIDATE.exec(s);
    if (m === null) continue;
    const w = m[1]!;
    if (tokenizer.encode(` ${w}`, false).length === 1 && standInTokenize(` ${w}`).length === 1) words.push(w);
  }
  // Sorted first so the order does not depend on the JSON key order; then a seeded Fisher–Yates.
  words.sort();
  const rnd = mulberry32(seed);
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  return words.slice(0, Math.max(0, count));
}
