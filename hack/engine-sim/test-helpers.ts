/**
 * Helpers for the simulator's own tests (and for other tests that drive it):
 * small HTTP wrappers over fetch and a deadline-bounded poll.
 */

/** Response of a helper call: status, headers, raw text and parsed JSON when it parses. */
export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or undefined; `any` because tests index into vLLM shapes freely. */
  json: any;
}

async function toResult(r: Response): Promise<HttpResult> {
  const text = await r.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (plain-text or empty body): leave json undefined.
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** POST a JSON body (a string is sent verbatim, to test malformed JSON), with extra headers if given. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return toResult(r);
}

/** GET a URL, with extra headers if given. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return toResult(await fetch(url, { headers }));
}

/** DELETE a URL. */
export async function del(url: string): Promise<HttpResult> {
  return toResult(await fetch(url, { method: 'DELETE' }));
}

/**
 * Poll `probe` until it returns a truthy value, or throw after `timeoutMs`.
 * The short pause between polls only paces the loop; the condition is what
 * synchronises.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as T;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Parse an SSE body into its `data:` payloads (the literal "[DONE]" kept as a string). */
export function sseData(text: string): Array<string | Record<string, unknown>> {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length))
    .map((d) => (d === '[DONE]' ? d : (JSON.parse(d) as Record<string, unknown>)));
}
