/**
 * Reads and parses an OpenAI request body once: into a Buffer with a size cap, then JSON. The
 * fields routing needs (`model`, `stream`) are pulled out here so no later step parses again.
 */
import type { IncomingMessage } from 'node:http';
import { SluiceError } from '../../shared/errors/codes';

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

/** Reads the body into one Buffer, refusing more than `cap` bytes with 413. */
export function readBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > cap) {
    req.resume();
    return Promise.reject(new SluiceError('SLUICE_BODY_TOO_LARGE', `request body is ${declared} bytes; the limit is ${cap} bytes (data-plane flag --max-body-bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > cap) {
        failed = true;
        reject(new SluiceError('SLUICE_BODY_TOO_LARGE', `request body exceeds the limit of ${cap} bytes (data-plane flag --max-body-bytes)`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

/** Parses the JSON body and checks the fields Sluice relies on. */
export function parseBody(raw: Buffer): ParsedBody {
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
