/**
 * A raw HTTP/1.1 client for the hardening tests: it writes exactly the bytes a test wants (a body
 * held back, a header undici would refuse) and reads the answer as text, so nothing between the
 * test and the data plane fixes the request up.
 */
import { connect, type Socket } from 'node:net';

/** One raw connection and what came back on it. */
export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the server closed the connection (or it was reset). */
  readonly closed: Promise<{ reset: boolean }>;
  /** Resolves with the first complete response (head and Content-Length body) within `timeoutMs`. */
  response(timeoutMs?: number): Promise<RawResponse>;
}

/** A parsed response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Opens a connection to `url`'s host and port. */
export function rawConnect(url: string): Promise<RawConnection> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let data = '';
    let onData: (() => void) | null = null;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      data += d;
      onData?.();
    });
    const closed = new Promise<{ reset: boolean }>((r) => {
      let reset = false;
      socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') reset = true; });
      socket.on('close', () => {
        onData?.();
        r({ reset });
      });
    });
    socket.once('connect', () => resolve({
      socket,
      received: () => data,
      closed,
      response: (timeoutMs = 5_000) => new Promise<RawResponse>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no complete response within ${timeoutMs}ms; got ${JSON.stringify(data.slice(0, 300))}`)), timeoutMs);
        const check = () => {
          const parsed = parseResponse(data);
          if (!parsed) return;
          clearTimeout(timer);
          onData = null;
          res(parsed);
        };
        onData = check;
        check();
      }),
    }));
    socket.once('error', reject);
  });
}

function parseResponse(text: string): RawResponse | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4);
  if (Buffer.byteLength(body, 'latin1') < length) return null;
  return { status, headers, body: body.slice(0, length) };
}

/** The head of a POST with JSON, as bytes to write. */
export function postHead(path: string, contentLength: number, extra: Record<string, string> = {}): string {
  const headers = { host: 'sluice', 'content-type': 'application/json', 'content-length': String(contentLength), ...extra };
  return `POST ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
