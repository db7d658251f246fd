/**
 * The words of the generated-shared-prefix workload when the engines run a real (Hugging Face)
 * tokenizer: a seeded list of words that are exactly one token after a space under both that
 * tokenizer and the simulator's stand-in (single-token-words.ts), plus the measured cost of the
 * "\n\n" between system prompt and question. gsp-workload.ts draws prompts from it, so a request
 * is exactly system + question tokens under the real tokenizer, as it is with random letters
 * under the stand-in.
 */
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { promptOf, type GspWorkload, type Vocabulary } from './gsp-workload';
import { singleTokenWords } from './single-token-words';

/**
 * Words in the vocabulary. With v words, two of 256 groups start with the same word with
 * probability ≈ 256² ÷ 2v (8 pairs at 4096) and with the same two words ≈ 256² ÷ 2v² (0.002):
 * far from a shared 128-token block, so groups still share no cacheable prefix.
 */
export const VOCABULARY_SIZE = 4096;

/** The seed of the word choice (fixed: the same tokenizer always gives the same workload). */
export const VOCABULARY_SEED = 1;

/** Token count of `text` under `tokenizer`, without special tokens. */
function count(tokenizer: HfTokenizer, text: string): number {
  return tokenizer.encode(text, false).length;
}

/** Ids of a prompt as vLLM counts them for a completion: with the post-processor's special tokens (none for Qwen). */
function promptIds(tokenizer: HfTokenizer, text: string): Uint32Array {
  return tokenizer.encode(text, true);
}

/**
 * Builds the vocabulary: `size` single-token words and the separator's tokens, measured as
 * tokens(" a\n\n b") − 2 over a few word pairs (throws if the pairs disagree or it is negative,
 * which would mean the separator merges into a word and lengths could not be exact).
 */
export function vocabularyFrom(tokenizer: HfTokenizer, size = VOCABULARY_SIZE, seed = VOCABULARY_SEED): Vocabulary {
  const words = singleTokenWords(tokenizer, size, seed).map((w) => w.trim());
  if (words.length < 16) throw new Error(`vocabulary: only ${words.length} single-token words; need at least 16`);
  const seen = new Set<number>();
  for (let i = 0; i < 8; i++) seen.add(count(tokenizer, ` ${words[i]!}\n\n ${words[i + 8]!}`) - 2);
  const [separatorTokens] = [...seen];
  if (seen.size !== 1 || separatorTokens === undefined || separatorTokens < 0) {
    throw new Error(`vocabulary: "\\n\\n" between two words costs ${[...seen].join(' or ')} tokens; expected one whole number ≥ 0`);
  }
  return { words, separatorTokens };
}

/** Loads the tokenizer in `dir` (a tokenizer.json or its folder) and builds the vocabulary. */
export async function buildVocabulary(dir: string, size = VOCABULARY_SIZE): Promise<{ vocabulary: Vocabulary; tokenizer: HfTokenizer }> {
  const tokenizer = await loadHfTokenizer(dir);
  return { vocabulary: vocabularyFrom(tokenizer, size), tokenizer };
}

/**
 * Throws unless every request of `w` is exactly systemTokens + questionTokens tokens under
 * `tokenizer` and begins with exactly its group's system-prompt tokens (so the group shares its
 * first systemTokens tokens). Meant for a small workload: it tokenizes every prompt.
 */
export function checkPromptTokens(tokenizer: HfTokenizer, w: GspWorkload): void {
  const { systemTokens, questionTokens } = w.spec;
  const system = w.systemPrompts.map((p) => promptIds(tokenizer, p));
  system.forEach((ids, g) => {
    if (ids.length !== systemTokens) throw new Error(`group ${g}: system prompt is ${ids.length} tokens, expected ${systemTokens}`);
  });
  for (const r of w.requests) {
    const ids = promptIds(tokenizer, promptOf(w, r));
    if (ids.length !== systemTokens + questionTokens) throw new Error(`group ${r.group} request ${r.index}: prompt is ${ids.length} tokens, expected ${systemTokens + questionTokens}`);
    const sys = system[r.group]!;
    const differs = sys.findIndex((id, k) => ids[k] !== id);
    if (differs >= 0) throw new Error(`group ${r.group} request ${r.index}: token ${differs} differs from the group's system prompt`);
  }
}
