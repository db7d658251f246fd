/**
 * Reads and parses an OpenAI request body once: into a Buffer with a size cap, then JSON. The
 * fields routing needs (`model`, `stream`) are pulled out here so no later step parses again.
 */
import type { IncomingMessage } from 'node:http';
import { SluiceError } from '../../shared/errors/codes';
import type { BodyBudget } from './body-budget';
import { jsonDeeperThan } from './json-depth';

/** Deepest nesting of objects and arrays accepted in a request body (`--max-json-depth`). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** A parsed inference request. */
export interface ParsedBody {
  /** The raw bytes, forwarded as-is unless the model is rewritten. */
  raw: Buffer;
  /** The decoded JSON object. */
  json: Record<string, unknown>;
  /** `model` from the body. */
  model: string;
  /** `stream` from the body. */
  stream: boolean;
}

/** Bounds on reading one request body. */
export interface BodyLimits {
  /** Largest body accepted, bytes (`--max-body-bytes`): 413 above. */
  readonly maxBytes: number;
  /** Longest the whole body may take to arrive, ms (`--request-body-timeout-ms`): 408 after. */
  readonly timeoutMs: number;
  /** Bytes held by every request at once (`--max-inflight-body-bytes`): 503 when full. */
  readonly budget: BodyBudget;
}

const overloaded = (budget: BodyBudget) => new SluiceError('SLUICE_OVERLOADED',
  `the data plane holds its limit of ${budget.limit} bytes of request bodies in flight (data-plane flag --max-inflight-body-bytes); retry shortly`);

/**
 * Reads the body into one Buffer within `limits`. Bytes are charged to the shared budget as they
 * arrive (a declared Content-Length is charged up front, so a body that cannot fit is refused
 * before it is read) and stay charged until `release` is called, once the response is done.
 * On any refusal the rest of the body is left unread: the caller answers with `Connection: close`.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): { body: Promise<Buffer>; release: () => void } {
  const { maxBytes, budget } = limits;
  let charged = 0;
  const release = () => {
    budget.give(charged);
    charged = 0;
  };
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) {
    return { body: Promise.reject(new SluiceError('SLUICE_BODY_TOO_LARGE', `request body is ${declared} bytes; the limit is ${maxBytes} bytes (data-plane flag --max-body-bytes)`)), release };
  }
  if (declared > 0) {
    if (!budget.take(declared)) return { body: Promise.reject(overloaded(budget)), release };
    charged = declared;
  }
  const body = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: Error) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      // Stop reading, so a client that keeps sending does not make us buffer what we will drop.
      req.pause();
      reject(err);
    };
    const timer = setTimeout(() => stop(new SluiceError('SLUICE_REQUEST_TIMEOUT',
      `the request body did not arrive within ${limits.timeoutMs} ms (${size} bytes received; data-plane flag --request-body-timeout-ms)`)), limits.timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return stop(new SluiceError('SLUICE_BODY_TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes (data-plane flag --max-body-bytes)`));
      if (size > charged) {
        // Chunked (or under-declared) body: charge what arrived beyond what was reserved.
        if (!budget.take(size - charged)) return stop(overloaded(budget));
        charged = size;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      clearTimeout(timer);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { body, release };
}

/** Parses the JSON body and checks the fields Sluice relies on. */
export function parseBody(raw: Buffer, maxDepth: number = DEFAULT_MAX_JSON_DEPTH): ParsedBody {
  if (jsonDeeperThan(raw, maxDepth)) {
    throw new SluiceError('SLUICE_JSON_TOO_DEEP', `request body nests objects and arrays more than ${maxDepth} levels deep; the limit is ${maxDepth} (data-plane flag --max-json-depth)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new SluiceError('SLUICE_INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SluiceError('SLUICE_INVALID_JSON', 'request body must be a JSON object');
  }
  const obj = json as Record<string, unknown>;
  if (typeof obj.model !== 'string' || obj.model.length === 0) {
    throw new SluiceError('SLUICE_INVALID_REQUEST', '`model` is required and must be a non-empty string; list the served models with GET /v1/models');
  }
  if (obj.stream !== undefined && typeof obj.stream !== 'boolean') {
    throw new SluiceError('SLUICE_INVALID_REQUEST', '`stream` must be true or false');
  }
  return { raw, json: obj, model: obj.model, stream: obj.stream === true };
}
