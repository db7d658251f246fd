import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body accepted (prompts of a few hundred thousand tokens fit). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** An error that maps to an OpenAI/vLLM-style JSON error response. */
export class ApiError extends Error {
  /** `type` is vLLM's err_type (BadRequestError, NotFoundError, ...). */
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** vLLM's ErrorResponse shape: {"error":{"message","type","param","code"}} with code = HTTP status. */
export function errorBody(status: number, type: string, message: string, param: string | null = null): object {
  return { error: { message, type, param, code: status } };
}

/** Error type name vLLM/OpenAI clients expect for a status code. */
export function errorTypeFor(status: number): string {
  const types: Record<number, string> = {
    400: 'BadRequestError',
    401: 'AuthenticationError',
    403: 'PermissionDeniedError',
    404: 'NotFoundError',
    408: 'TimeoutError',
    413: 'BadRequestError',
    422: 'UnprocessableEntityError',
    429: 'RateLimitError',
    500: 'InternalServerError',
    502: 'BadGatewayError',
    503: 'ServiceUnavailableError',
    504: 'GatewayTimeoutError',
  };
  return types[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError');
}

/** Read the whole body, refusing more than MAX_BODY_BYTES (413). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'BadRequestError', `request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parse a JSON body; malformed JSON is a 400 like vLLM's. */
export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'BadRequestError', `JSON decode error: ${(e as Error).message}`);
  }
}

/** Send a JSON response (headers already set on `res` are kept). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** Send a plain-text response. */
export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Send an ApiError (or any error, as 500) in vLLM's error shape. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof ApiError) {
    sendJson(res, err.status, errorBody(err.status, err.type, err.message, err.param));
    return;
  }
  sendJson(res, 500, errorBody(500, 'InternalServerError', (err as Error)?.message ?? String(err)));
}

/** Wait `ms` of wall time, resolving early (with false) if `signal` aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
