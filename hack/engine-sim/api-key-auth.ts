import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * vLLM's `--api-key` (its AuthenticationMiddleware, installed by vllm/entrypoints/openai/api_server.py
 * when `--api-key` or VLLM_API_KEY is set): every request whose path starts with `/v1` must carry
 * `Authorization: Bearer <one of the keys>`, else it is answered 401 `{"error":"Unauthorized"}`
 * before routing (so an unknown `/v1/...` path is 401 too, not 404). As in vLLM:
 * - the scheme is matched case-insensitively and the token is everything after the first space;
 * - OPTIONS (CORS preflight) is never checked;
 * - paths outside `/v1` stay open: /health, /metrics, /tokenize and the simulator's /sim/*;
 * - the token and every key are compared as SHA-256 digests with a constant-time compare, against
 *   every key without stopping at a match, so timing reveals neither a key nor which one matched.
 */

/** vLLM's 401 body, as starlette's JSONResponse writes it. */
export const UNAUTHORIZED_BODY = Object.freeze({ error: 'Unauthorized' });

/** The path prefix vLLM guards. */
const GUARDED_PREFIX = '/v1';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The keys a pod requires: a key or a list of them, empty ones dropped (as vLLM drops falsy keys). */
export function apiKeysOf(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return (typeof value === 'string' ? [value] : [...value]).filter((k) => k !== '');
}

/** Checks requests against a pod's API keys (see the file comment). */
export class ApiKeyGuard {
  private readonly digests: readonly Buffer[];

  /** `keys` must not be empty: a pod without keys has no guard. */
  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('ApiKeyGuard needs at least one key');
    this.digests = keys.map(digest);
  }

  /** Whether a request may go on; `authorization` is the raw Authorization header, if any. */
  allows(method: string | undefined, path: string, authorization: string | undefined): boolean {
    if (method === 'OPTIONS' || !path.startsWith(GUARDED_PREFIX)) return true;
    if (!authorization) return false;
    const space = authorization.indexOf(' ');
    const scheme = space < 0 ? authorization : authorization.slice(0, space);
    if (scheme.toLowerCase() !== 'bearer') return false;
    const given = digest(space < 0 ? '' : authorization.slice(space + 1));
    let match = false;
    // No early exit: every key is compared whatever the outcome.
    for (const d of this.digests) match = timingSafeEqual(given, d) || match;
    return match;
  }
}
