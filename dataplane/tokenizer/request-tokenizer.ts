/**
 * The one interface the traffic path uses to get a request's token ids, with two sources:
 *   - `file`: in process, with the model's tokenizer.json (shared/tokenizer/hf-tokenizer.ts);
 *     loaded once per path and shared by every server naming that path. Until it has loaded,
 *     or if loading failed (logged once), tokens() gives null.
 *   - `engine`: a candidate endpoint's `POST /tokenize` (engine-tokenizer.ts), taking them in turn.
 * null always means "no ids": the scheduler then works without prefix-cache information.
 */
import type { TokenizerSpec } from '../../shared/config/kv-events-annotations';
import type { Logger } from '../../shared/log/logger';
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import type { Endpoint } from '../proxy/endpoint-registry';
import { EngineTokenizer } from './engine-tokenizer';

/** Token ids for a request body; null when they cannot be had. */
export interface RequestTokenizer {
  /** `maxTokens`: the caller looks at no more than this many leading ids (a hint; more may come). */
  tokens(body: Record<string, unknown>, endpoints: readonly Endpoint[], maxTokens?: number): Promise<Uint32Array | null> | Uint32Array | null;
}

/** Where ids come from: a server's `sluice.dev/tokenizer` setting. */
export type { TokenizerSpec };

/** In-process tokenization with a tokenizer.json; see the file header. */
export class FileRequestTokenizer implements RequestTokenizer {
  private tok: HfTokenizer | null = null;
  /** Why loading failed, for the debug dump (the path and the loader's message, never file content). */
  private failure: string | null = null;
  /** Settles when loading has finished, either way (tests and readiness wait on it). */
  readonly ready: Promise<void>;

  /** Starts loading `path` at once. */
  constructor(readonly path: string, log: Pick<Logger, 'warn' | 'info'>) {
    this.ready = loadHfTokenizer(path).then(
      (t) => {
        this.tok = t;
        log.info({ path: t.path, ...t.stats() }, 'tokenizer loaded');
      },
      (e: Error) => {
        // Once per path: the instance is shared, so requests do not repeat it.
        this.failure = e.message;
        log.warn({ path, err: e.message }, 'tokenizer failed to load; requests get no token ids');
      },
    );
  }

  /** Ids, or null while loading, after a failed load, or for a body without one text prompt. */
  tokens(body: Record<string, unknown>, _endpoints?: readonly Endpoint[], maxTokens?: number): Uint32Array | null {
    return this.tok === null ? null : this.tok.tokenizeRequest(body, maxTokens);
  }

  /** State for the debug dump: loading, loaded (with counters) or failed (with why). */
  describe(): Record<string, unknown> {
    if (this.tok) return { kind: 'file', path: this.path, state: 'loaded', ...this.tok.stats() };
    return { kind: 'file', path: this.path, state: this.failure === null ? 'loading' : 'failed', error: this.failure ?? undefined };
  }

  /** The loaded tokenizer's counters, or null. */
  stats(): ReturnType<HfTokenizer['stats']> | null {
    return this.tok?.stats() ?? null;
  }
}

/** Ids from the first endpoint's /tokenize. */
export class EngineRequestTokenizer implements RequestTokenizer {
  /** `client` is shared by all servers using engine tokenization. */
  constructor(readonly client: EngineTokenizer) {}

  private next = 0;

  /** Asks the endpoints in turn (so no one engine's API server takes every /tokenize); null when there is none. */
  tokens(body: Record<string, unknown>, endpoints: readonly Endpoint[]): Promise<Uint32Array | null> | null {
    if (endpoints.length === 0) return null;
    const ep = endpoints[this.next++ % endpoints.length]!;
    return this.client.tokens(ep.origin, body);
  }
}

const byKey = new Map<string, RequestTokenizer>();

/**
 * The tokenizer for a spec, one per distinct spec in the process: servers naming the same file
 * share one loaded tokenizer (and its chunk cache); all engine specs share one client.
 */
export function tokenizerFor(spec: TokenizerSpec, log: Pick<Logger, 'warn' | 'info'>): RequestTokenizer {
  const key = spec.kind === 'engine' ? 'engine' : `file:${spec.path}`;
  let t = byKey.get(key);
  if (t === undefined) {
    t = spec.kind === 'engine' ? new EngineRequestTokenizer(new EngineTokenizer()) : new FileRequestTokenizer(spec.path, log);
    byKey.set(key, t);
  }
  return t;
}

/** Every tokenizer in use, for `/debug/config_dump/kvevents`. */
export function describeTokenizers(): Record<string, unknown>[] {
  return [...byKey.values()].map((t) => (t instanceof FileRequestTokenizer ? t.describe() : { kind: 'engine', ...(t as EngineRequestTokenizer).client.stats() }));
}

/** Forget every shared tokenizer, closing the engine client (process shutdown, tests). */
export async function closeTokenizers(): Promise<void> {
  const all = [...byKey.values()];
  byKey.clear();
  await Promise.all(all.map((t) => (t instanceof EngineRequestTokenizer ? t.client.close() : undefined)));
}
