/**
 * Where a text may be cut so that tokenizing the pieces separately gives exactly the ids of the
 * whole. Decided once per tokenizer from its tokenizer.json (`planChunking`), applied per request
 * (`chunkEnds`).
 *
 * Safe cut points, for byte-level BPE tokenizers whose pre-tokenizer is one of the regex splits
 * below and whose normalizer is absent or NFC:
 *   A. before a space that precedes an ASCII letter (`x| word`): every alternative of the GPT-2,
 *      Llama-3 and Qwen2 regexes ends a match there (` word` is always matched by the letter
 *      alternative, and `\s+(?!\S)` sees a space at the cut in the whole text and end-of-text in
 *      the prefix, which it treats alike);
 *   B. after a newline that precedes a letter (`\n|字`), only for the Llama-3/Qwen2 family, whose
 *      `\s*[\r\n]+` alternative takes any whitespace run holding a newline before `\s+(?!\S)`
 *      can look ahead (GPT-2's regex would match ` \n` whole at the end of the prefix but ` `,
 *      `\n` in the whole text);
 *   C. right after a non-normalized added token (`<|im_end|>|`), found leftmost-longest as the
 *      added-vocabulary split does: the library tokenizes the text between added tokens alone.
 * NFC never composes across a space or a newline (neither combines with anything), so it
 * commutes with A and B. Added tokens must not contain a space or a newline (then no cut A/B
 * falls inside one) and must not strip neighbouring whitespace (lstrip/rstrip/single_word).
 */

/** GPT-2's split (also ByteLevel's built-in regex when use_regex is true). */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** Llama-3 (and tiktoken cl100k) split. */
const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2/Qwen3 split: Llama-3's with single digits. */
const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Decision for one tokenizer: how to cut, or why it may not be cut. */
export type ChunkPlan =
  | {
      chunked: true;
      /** Regex family of the pre-tokenizer. */
      family: 'gpt2' | 'llama3';
      /** Cut B allowed. */
      newlineCuts: boolean;
      /** Non-normalized added tokens, longest first (leftmost-longest search), for cut C; null if none. */
      addedRe: RegExp | null;
      /** Ids the post-processor puts before and after one sequence when special tokens are added. */
      prefixIds: number[];
      suffixIds: number[];
    }
  | { chunked: false; reason: string };

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The split family of a pre-tokenizer config, or a reason it is not one we can cut. */
function preTokenizerFamily(pre: unknown): 'gpt2' | 'llama3' | string {
  if (!isObj(pre)) return 'no pre-tokenizer';
  const byteLevelPlain = (p: unknown): boolean =>
    isObj(p) && p.type === 'ByteLevel' && p.add_prefix_space !== true && p.use_regex === false;
  if (pre.type === 'ByteLevel') {
    if (pre.add_prefix_space === true) return 'ByteLevel pre-tokenizer adds a prefix space';
    return pre.use_regex === false ? 'ByteLevel pre-tokenizer without a split regex' : 'gpt2';
  }
  if (pre.type !== 'Sequence' || !Array.isArray(pre.pretokenizers) || pre.pretokenizers.length !== 2) {
    return `pre-tokenizer ${String(pre.type)} is not a known regex split`;
  }
  const [split, bl] = pre.pretokenizers as unknown[];
  if (!byteLevelPlain(bl)) return 'second pre-tokenizer is not a plain ByteLevel';
  if (!isObj(split) || split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true) {
    return 'first pre-tokenizer is not an isolated regex Split';
  }
  const pattern = isObj(split.pattern) ? split.pattern.Regex : undefined;
  if (pattern === LLAMA3_PATTERN || pattern === QWEN2_PATTERN) return 'llama3';
  if (pattern === GPT2_PATTERN) return 'gpt2';
  return 'split regex is not one of the GPT-2/Llama-3/Qwen2 patterns';
}

/** Ids added around a single sequence by the post-processor, or a reason we cannot tell. */
function postProcessorAffixes(pp: unknown, into: { prefix: number[]; suffix: number[] }): string | null {
  if (pp === null || pp === undefined) return null;
  if (!isObj(pp)) return 'malformed post-processor';
  if (pp.type === 'ByteLevel') return null; // offsets only, no tokens
  if (pp.type === 'Sequence' && Array.isArray(pp.processors)) {
    for (const p of pp.processors) {
      const err = postProcessorAffixes(p, into);
      if (err) return err;
    }
    return null;
  }
  if (pp.type === 'TemplateProcessing' && Array.isArray(pp.single) && isObj(pp.special_tokens)) {
    let seen = false;
    for (const item of pp.single) {
      if (isObj(item) && isObj(item.Sequence)) { seen = true; continue; }
      const id = isObj(item) && isObj(item.SpecialToken) ? item.SpecialToken.id : undefined;
      const spec = typeof id === 'string' ? (pp.special_tokens as Json)[id] : undefined;
      if (!isObj(spec) || !Array.isArray(spec.ids)) return 'TemplateProcessing names an unknown special token';
      (seen ? into.suffix : into.prefix).push(...(spec.ids as number[]));
    }
    return null;
  }
  return `post-processor ${String(pp.type)} is not supported for chunking`;
}

/** Decide from a parsed tokenizer.json whether and where texts may be cut. */
export function planChunking(tokenizerJson: Json): ChunkPlan {
  const no = (reason: string): ChunkPlan => ({ chunked: false, reason });
  const model = tokenizerJson.model;
  if (!isObj(model) || model.type !== 'BPE') return no('model is not BPE');
  if (typeof model.dropout === 'number' && model.dropout > 0) return no('BPE dropout is not deterministic');
  const norm = tokenizerJson.normalizer;
  if (norm !== null && norm !== undefined && !(isObj(norm) && norm.type === 'NFC')) {
    return no(`normalizer ${isObj(norm) ? String(norm.type) : '?'} may act across cuts`);
  }
  const family = preTokenizerFamily(tokenizerJson.pre_tokenizer);
  if (family !== 'gpt2' && family !== 'llama3') return no(family);
  const affixes = { prefix: [] as number[], suffix: [] as number[] };
  const ppErr = postProcessorAffixes(tokenizerJson.post_processor, affixes);
  if (ppErr) return no(ppErr);
  const added: string[] = [];
  for (const t of (tokenizerJson.added_tokens ?? []) as Json[]) {
    const content = String(t.content);
    if (t.lstrip || t.rstrip || t.single_word) return no(`added token ${content} strips or matches single words`);
    if (/[\s]/.test(content)) return no(`added token ${JSON.stringify(content)} holds whitespace`);
    if (t.normalized !== true && content !== '') added.push(content);
  }
  // Longest first: at the leftmost position the regex alternation then takes the longest token.
  added.sort((x, y) => y.length - x.length);
  const addedRe = added.length ? new RegExp(added.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
  return {
    chunked: true, family, newlineCuts: family === 'llama3', addedRe,
    prefixIds: affixes.prefix, suffixIds: affixes.suffix,
  };
}

/** Cut A candidates: a space before an ASCII letter (the match index is the cut). */
const CUT_A = / [A-Za-z]/g;
/** Cut B candidates: a newline before a letter (the cut is one past the match index). */
const CUT_B = /\n(?=\p{L})/gu;

/** First match index of `re` at or after `from`, or Infinity. */
function nextMatch(re: RegExp, text: string, from: number): number {
  re.lastIndex = from;
  const m = re.exec(text);
  return m === null ? Infinity : m.index;
}

/**
 * End offsets of the chunks of `text` (the last is text.length). A chunk is cut at the first safe
 * point at least `minChars` after its start, so every cut depends only on the text before it (and
 * the character after): two prompts sharing a long prefix get the same chunks over it. Text with
 * no safe point makes one long chunk. Each search moves forward only, so this is O(text length);
 * the regex scans run in V8's native matcher rather than a per-character loop.
 */
export function chunkEnds(text: string, plan: Extract<ChunkPlan, { chunked: true }>, minChars: number): number[] {
  const ends: number[] = [];
  const n = text.length;
  // Next candidate of each kind found so far (a position >= the current search start, or Infinity).
  let a = -1;
  let b = -1;
  // Added tokens, leftmost-longest from the text start: `tokEnd` is the end of the next match.
  let tokPos = 0;
  let tokEnd = -1;
  const addedRe = plan.addedRe;
  let start = 0;
  // Bounded: start strictly grows each iteration.
  for (;;) {
    const q = start + minChars;
    if (q >= n) break;
    if (a < q) a = nextMatch(CUT_A, text, q);
    if (plan.newlineCuts && b < q) {
      const m = nextMatch(CUT_B, text, q - 1);
      b = m + 1;
    } else if (!plan.newlineCuts) b = Infinity;
    let c = Infinity;
    if (addedRe !== null) {
      // Consume matches that end before q; the next one ending at or after q is the candidate.
      while (tokEnd < q && tokPos <= n) {
        addedRe.lastIndex = tokPos;
        const m = addedRe.exec(text);
        if (m === null) { tokPos = n + 1; tokEnd = Infinity; break; }
        tokEnd = m.index + m[0].length;
        tokPos = tokEnd;
      }
      c = tokEnd;
    }
    const cut = Math.min(a, b, c);
    if (!(cut < n)) break;
    ends.push(cut);
    start = cut;
  }
  ends.push(n);
  return ends;
}
