/** Writes Sluice errors as OpenAI-shaped JSON answers. The one place codes become HTTP. */
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, errorBody, type ErrorCode } from '../../shared/errors/codes';

/** Sends `{"error":{...}}` with the registered status, unless headers already went out. */
export function sendError(res: ServerResponse, code: ErrorCode, message: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  res.writeHead(ERROR_CODES[code].status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-sluice-error-code': code,
    ...extraHeaders,
  });
  res.end(body);
}
