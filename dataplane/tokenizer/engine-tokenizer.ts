/**
 * Token ids from the engine itself, as Kthena does it: `POST {origin}/tokenize` with vLLM's body
 * (`{model, prompt}` for completions, `{model, messages, add_generation_prompt}` for chat; vLLM's
 * TokenizeCompletionRequest / TokenizeChatRequest) answered with `{count, max_model_len, tokens}`.
 *
 * It sits on the request path, so it is bounded everywhere: a short deadline (default 250 ms)
 * covering connect, headers and body; a response size cap; its own keep-alive Agent, so a call
 * never queues behind long inference streams; and it never throws: any failure gives null and
 * the caller schedules without prefix information. Answers are cached per (model, prompt or
 * messages JSON) in an LRU bounded by characters.
 */
import { Agent, type Dispatcher } from 'undici';
import { ChunkCache } from '../../shared/tokenizer/chunk-cache';

/** Default deadline of one /tokenize call, ms. */
export const DEFAULT_TOKENIZE_TIMEOUT_MS = 250;
/** Default response cap: 4 MiB holds ~500k ids at 7 bytes each, over any context window. */
export const DEFAULT_TOKENIZE_MAX_BYTES = 4 * 1024 * 1024;
/** Default cache bound: 4 Mi characters of cache keys (the prompt text or messages JSON). */
export const DEFAULT_ENGINE_CACHE_CHARS = 4 * 1024 * 1024;

/** Options of EngineTokenizer. */
export interface EngineTokenizerOptions {
  timeoutMs?: number;
  maxResponseBytes?: number;
  cacheChars?: number;
  /** Dispatcher to use (tests); default a private keep-alive Agent. */
  dispatcher?: Dispatcher;
}

/** Counters for a debug dump. */
export interface EngineTokenizerStats {
  requests: number;
  failures: number;
  cacheHits: number;
  cacheMisses: number;
}

/** What to send for a body: the /tokenize request and its cache key; or ids known without asking. */
export type TokenizePlan = { key: string; request: Record<string, unknown> } | { ids: Uint32Array } | null;

/**
 * The /tokenize body for an OpenAI completions or chat body (null when there is no single text
 * prompt: several prompts, embeddings input). Token-id prompts need no call. Only fields the
 * request set are forwarded (add_special_tokens, tools, chat_template_kwargs), so vLLM's defaults
 * apply as they would for the request itself.
 */
export function planTokenize(body: Record<string, unknown>): TokenizePlan {
  const model = typeof body.model === 'string' ? body.model : undefined;
  const req: Record<string, unknown> = model === undefined ? {} : { model };
  if (body.add_special_tokens !== undefined) req.add_special_tokens = body.add_special_tokens;
  if (Array.isArray(body.messages)) {
    req.messages = body.messages;
    req.add_generation_prompt = body.add_generation_prompt !== false;
    if (body.tools !== undefined) req.tools = body.tools;
    if (body.chat_template_kwargs !== undefined) req.chat_template_kwargs = body.chat_template_kwargs;
    return { key: `chat\0${JSON.stringify(req)}`, request: req };
  }
  let p = body.prompt;
  if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) p = p[0];
  if (typeof p === 'string') {
    req.prompt = p;
    return { key: `cmpl\0${model ?? ''}\0${String(req.add_special_tokens ?? '')}\0${p}`, request: req };
  }
  if (Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
    return { ids: Uint32Array.from(p as number[]) };
  }
  return null;
}

/** Asks engines to tokenize; see the file header. */
export class EngineTokenizer {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly cache: ChunkCache;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private requests = 0;
  private failures = 0;

  /** Options default as documented on the constants above. */
  constructor(opts: EngineTokenizerOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TOKENIZE_TIMEOUT_MS;
    this.maxBytes = opts.maxResponseBytes ?? DEFAULT_TOKENIZE_MAX_BYTES;
    this.cache = new ChunkCache(opts.cacheChars ?? DEFAULT_ENGINE_CACHE_CHARS);
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.dispatcher = opts.dispatcher ?? new Agent({
      connections: 8,
      // Below uvicorn's 5 s idle timeout, so a reused socket is never one the engine just closed.
      keepAliveTimeout: 4_000,
      connect: { timeout: this.timeoutMs },
    });
  }

  /** Ids the engine at `origin` computes for `body`, or null on any failure. Never rejects. */
  async tokens(origin: string, body: Record<string, unknown>): Promise<Uint32Array | null> {
    const plan = planTokenize(body);
    if (plan === null) return null;
    if ('ids' in plan) return plan.ids;
    const cached = this.cache.get(plan.key);
    if (cached !== undefined) return cached;
    this.requests++;
    const ids = await this.call(origin, plan.request).catch(() => null);
    if (ids === null) this.failures++;
    else this.cache.set(plan.key, ids);
    return ids;
  }

  private async call(origin: string, request: Record<string, unknown>): Promise<Uint32Array | null> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    try {
      const res = await this.dispatcher.request({
        origin, path: '/tokenize', method: 'POST', signal: ac.signal,
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(request),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.maxBytes) {
          res.body.destroy();
          return null;
        }
        chunks.push(chunk as Buffer);
      }
      if (res.statusCode !== 200) return null;
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tokens?: unknown };
      const t = parsed.tokens;
      if (!Array.isArray(t) || !t.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) return null;
      return Uint32Array.from(t as number[]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Counters for a debug dump. */
  stats(): EngineTokenizerStats {
    const c = this.cache.stats();
    return { requests: this.requests, failures: this.failures, cacheHits: c.hits, cacheMisses: c.misses };
  }

  /** Close the private Agent (a dispatcher passed in is left to its owner). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}
