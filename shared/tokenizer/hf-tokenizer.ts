/**
 * A Hugging Face tokenizer that gives the token ids vLLM computes for an OpenAI request, with a
 * cache by prompt prefix: texts are cut at points where tokenizing the pieces alone gives the ids
 * of the whole (chunk-plan.ts), each piece's ids are cached (chunk-cache.ts), so a long shared
 * system prompt is tokenized once. Encoding itself is @huggingface/tokenizers (docs/adr/0005),
 * or, for byte-level BPE tokenizers it reproduces exactly, our faster byte-level-bpe.ts.
 *
 * Whether cutting is exact is decided at load: the tokenizer.json must have a shape chunk-plan.ts
 * knows, and a self-check must find chunked and whole encodings equal on varied sample texts;
 * otherwise every text is encoded whole (stats().chunked is false, with the reason). The fast
 * encoder is used only when it builds and gives the library's ids on the check texts
 * (byte-level-bpe-check.ts); otherwise stats().fastReason says why the library is used.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { ChatTemplate, templateText, type ChatMessageInput, type ChatTemplateOptions } from './chat-template';
import { ChunkCache, DEFAULT_CHUNK_CACHE_CHARS, type ChunkCacheStats } from './chunk-cache';
import { chunkEnds, planChunking, type ChunkPlan } from './chunk-plan';
import { buildByteLevelBpe, type ByteLevelBpe } from './byte-level-bpe';
import { firstDifference, selfCheckTexts } from './byte-level-bpe-check';
import { sampleText } from './sample-text';
import { MAX_TOKENIZER_FILE_BYTES, readTokenizerFiles, type TokenizerFiles } from './tokenizer-files';

/** A chunk is cut at the first safe point after this many characters (so chunks are ~1–1.1k). */
export const DEFAULT_CHUNK_CHARS = 1024;

/** Options of loadHfTokenizer. */
export interface HfTokenizerOptions {
  /** Chunk cache bound in characters of chunk text (default 8 Mi); 0 disables the cache. */
  cacheChars?: number;
  /** Minimum chunk length in characters (default 1024). */
  chunkChars?: number;
  /** Largest tokenizer file accepted (default 64 MiB). */
  maxFileBytes?: number;
  /** Use our byte-level BPE encoder when it is exact (default true); false: always the library. */
  fastEncoder?: boolean;
}

/** Counters for a debug dump. */
export interface HfTokenizerStats extends ChunkCacheStats {
  /** Texts are cut and cached by chunk; false: encoded whole every time. */
  chunked: boolean;
  /** Why chunking is off, or null. */
  reason: string | null;
  /** Texts encoded through encode(). */
  encodes: number;
  /** New text goes through byte-level-bpe.ts (false: through the library). */
  fast: boolean;
  /** Why the fast encoder is not used, or null. */
  fastReason: string | null;
}

/** Tokenizer of one model, loaded by loadHfTokenizer. */
export class HfTokenizer {
  private readonly lib: Tokenizer;
  private plan: ChunkPlan;
  private readonly cache: ChunkCache;
  private readonly chunkChars: number;
  private readonly templates = new Map<boolean, ChatTemplate | null>();
  private encodes = 0;
  private fast: ByteLevelBpe | null = null;
  private fastReason: string | null = null;

  /** Prefer loadHfTokenizer; this runs the fast-encoder and chunking self-checks. */
  constructor(private readonly files: TokenizerFiles, opts: HfTokenizerOptions = {}) {
    this.lib = new Tokenizer(files.tokenizerJson, files.config);
    this.cache = new ChunkCache(opts.cacheChars ?? DEFAULT_CHUNK_CACHE_CHARS);
    this.chunkChars = opts.chunkChars ?? DEFAULT_CHUNK_CHARS;
    if (!(Number.isInteger(this.chunkChars) && this.chunkChars >= 1)) throw new Error(`chunkChars must be an integer >= 1`);
    this.plan = planChunking(files.tokenizerJson);
    this.fastReason = opts.fastEncoder === false ? 'disabled by option' : this.buildFast();
    if (this.plan.chunked) {
      const failed = this.selfCheck();
      if (failed !== null) {
        this.plan = { chunked: false, reason: `self-check failed on ${failed}` };
        // The check ran through the fast encoder too: trust neither.
        [this.fast, this.fastReason] = [null, this.fastReason ?? 'the chunking self-check failed'];
      }
    }
  }

  /** The tokenizer.json this was loaded from. */
  get path(): string {
    return this.files.tokenizerPath;
  }

  /** Ids of `text` as the library encodes it whole (the reference the chunked path must equal). */
  encodeWhole(text: string, addSpecialTokens: boolean): Uint32Array {
    return Uint32Array.from(this.lib.encode(text, { add_special_tokens: addSpecialTokens }).ids);
  }

  /**
   * Token ids of `text`; `addSpecialTokens` adds what the post-processor adds around one sequence
   * (e.g. Llama 3's <|begin_of_text|>; nothing for Qwen), as vLLM does for completions.
   * With `maxTokens`, a chunked tokenizer may stop after the chunk that reaches it: the result is
   * then the first ≥ maxTokens ids of the whole (chunks are exact), without what the
   * post-processor appends at the end; a caller that only looks at a prefix saves the rest.
   */
  encode(text: string, addSpecialTokens: boolean, maxTokens = Infinity): Uint32Array {
    this.encodes++;
    const plan = this.plan;
    if (!plan.chunked) return this.encodeWhole(text, addSpecialTokens);
    // Without a cache: one chunk (minChars Infinity), through the fast encoder when there is one.
    if (this.cache.maxChars === 0) return this.encodeChunked(text, addSpecialTokens, plan, Infinity, null, maxTokens);
    return this.encodeChunked(text, addSpecialTokens, plan, this.chunkChars, this.cache, maxTokens);
  }

  private encodeChunked(
    text: string,
    addSpecialTokens: boolean,
    plan: Extract<ChunkPlan, { chunked: true }>,
    minChars: number,
    cache: ChunkCache | null,
    maxTokens: number,
  ): Uint32Array {
    const ends = chunkEnds(text, plan, minChars);
    const parts: Uint32Array[] = [];
    let total = 0;
    let start = 0;
    for (const end of ends) {
      if (end === start) continue;
      const chunk = text.slice(start, end);
      let ids = cache?.get(chunk);
      if (ids === undefined) {
        ids = this.fast?.encode(chunk) ?? Uint32Array.from(this.lib.encode(chunk, { add_special_tokens: false }).ids);
        cache?.set(chunk, ids);
      }
      parts.push(ids);
      total += ids.length;
      start = end;
      if (total >= maxTokens && end < text.length) break;
    }
    const pre = addSpecialTokens ? plan.prefixIds : [];
    const post = addSpecialTokens && start === text.length ? plan.suffixIds : [];
    const out = new Uint32Array(pre.length + total + post.length);
    out.set(pre, 0);
    let at = pre.length;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(post, at);
    return out;
  }

  /** Build the fast encoder and compare it with the library; returns why it is not used, or null. */
  private buildFast(): string | null {
    const built = buildByteLevelBpe(this.files.tokenizerJson, this.files.config);
    if (typeof built === 'string') return built;
    const added = ((this.files.tokenizerJson.added_tokens ?? []) as { content: unknown }[]).map((t) => String(t.content));
    const diff = firstDifference(selfCheckTexts(added), (t) => built.encode(t), (t) => this.encodeWhole(t, false));
    if (diff !== null) return `self-check failed: ${diff}`;
    this.fast = built;
    return null;
  }

  /**
   * Compare chunked (with small chunks, so there are many cuts) and whole encodings on varied
   * texts; returns a description of the first difference, or null when all agree.
   */
  private selfCheck(): string | null {
    const plan = this.plan as Extract<ChunkPlan, { chunked: true }>;
    const texts = [
      sampleText(1, 6000), sampleText(2, 6000), sampleText(3, 3000, 'prose'),
      'a\n\nb \n c  d\te\n\n\n世界 x', '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n', ' x', '',
    ];
    for (let i = 0; i < texts.length; i++) {
      for (const special of [false, true]) {
        const whole = this.encodeWhole(texts[i]!, special);
        const chunked = this.encodeChunked(texts[i]!, special, plan, 16, null, Infinity);
        if (whole.length !== chunked.length || whole.some((v, k) => chunked[k] !== v)) return `sample text ${i}`;
      }
    }
    return null;
  }

  /**
   * Render `messages` with the tokenizer_config's chat template as vLLM/transformers do. Throws
   * when the directory has no template (naming the file) or the messages are not text.
   */
  applyChatTemplate(messages: readonly ChatMessageInput[], opts: ChatTemplateOptions): string {
    const withTools = opts.tools !== undefined && opts.tools.length > 0;
    let t = this.templates.get(withTools);
    if (t === undefined) {
      const text = templateText(this.files.config, withTools);
      const source = this.files.configPath ?? `${this.files.tokenizerPath} (no tokenizer_config.json beside it)`;
      t = text === null ? null : new ChatTemplate(text, this.files.config, source);
      this.templates.set(withTools, t);
    }
    if (t === null) {
      const where = this.files.configPath ?? `the directory of ${this.files.tokenizerPath} (no tokenizer_config.json)`;
      throw new Error(`no chat_template in ${where}: cannot render chat messages`);
    }
    return t.render(messages, opts);
  }

  /**
   * The ids vLLM computes for an OpenAI body: completions `prompt` (a string, encoded with special
   * tokens; token ids, taken as they are; a one-element list of either), or chat `messages`
   * (rendered with the chat template and the body's add_generation_prompt (default true), tools
   * and chat_template_kwargs, encoded without special tokens unless the body sets
   * add_special_tokens). Anything else (several prompts, embeddings input, non-text content, a
   * template error) gives null.
   */
  tokenizeRequest(body: Record<string, unknown>, maxTokens = Infinity): Uint32Array | null {
    if (Array.isArray(body.messages)) {
      let text: string;
      try {
        text = this.applyChatTemplate(body.messages as ChatMessageInput[], {
          addGenerationPrompt: body.add_generation_prompt !== false,
          tools: Array.isArray(body.tools) ? body.tools : undefined,
          kwargs: isRecord(body.chat_template_kwargs) ? body.chat_template_kwargs : undefined,
        });
      } catch {
        // Non-text content (ChatContentError), a template that raised, a missing template.
        return null;
      }
      return this.encode(text, body.add_special_tokens === true, maxTokens);
    }
    let p = body.prompt;
    if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) p = p[0];
    if (typeof p === 'string') return this.encode(p, body.add_special_tokens !== false, maxTokens);
    if (Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
      return Uint32Array.from(p as number[]);
    }
    return null;
  }

  /**
   * The model's vocabulary as stored in tokenizer.json (byte-level strings: "Ġword" is " word"),
   * for tools that pick words by their tokenization (benchmarks).
   */
  tokenStrings(): string[] {
    const vocab = (this.files.tokenizerJson.model as Record<string, unknown>).vocab;
    if (Array.isArray(vocab)) return vocab.map((e) => String(Array.isArray(e) ? e[0] : e)); // Unigram: [piece, score]
    return vocab && typeof vocab === 'object' ? Object.keys(vocab) : [];
  }

  /** Counters and the chunking decision, for a debug dump. */
  stats(): HfTokenizerStats {
    return {
      ...this.cache.stats(), chunked: this.plan.chunked, reason: this.plan.chunked ? null : this.plan.reason,
      encodes: this.encodes, fast: this.fast !== null, fastReason: this.fastReason,
    };
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Load a tokenizer from a tokenizer.json file or a directory holding one (plus an optional
 * tokenizer_config.json). Files over `maxFileBytes` (default 64 MiB) are refused.
 */
export async function loadHfTokenizer(path: string, opts: HfTokenizerOptions = {}): Promise<HfTokenizer> {
  const files = await readTokenizerFiles(path, opts.maxFileBytes ?? MAX_TOKENIZER_FILE_BYTES);
  try {
    return new HfTokenizer(files, opts);
  } catch (e) {
    throw new Error(`${files.tokenizerPath}: cannot build the tokenizer: ${(e as Error).message}`);
  }
}
