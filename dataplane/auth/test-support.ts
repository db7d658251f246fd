/**
 * Helpers for the auth unit tests: a real JWKS server on loopback whose keys a test can rotate or
 * stop, keys and tokens made with jose, a logger that keeps its lines, and a bounded wait.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import pino from 'pino';
import type { Logger } from '../../shared/log/logger';

/** A signing key and its public JWK (with kid and alg set). */
export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/** Generates an asymmetric key pair for `alg`, published under `kid`. */
export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

/** Signs `claims` with `key`; `kid: null` leaves the kid out of the header. */
export async function sign(key: TestKey, claims: JWTPayload, header: { kid?: string | null; alg?: string } = {}): Promise<string> {
  const kid = header.kid === undefined ? key.kid : header.kid;
  const protectedHeader = kid === null ? { alg: header.alg ?? key.alg } : { alg: header.alg ?? key.alg, kid };
  return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

/** Seconds since the epoch, as JWT claims count time. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A JWKS document served over HTTP on 127.0.0.1; `keys` may be replaced at any time. */
export interface JwksServer {
  readonly url: string;
  /** The JWKs served from now on. */
  keys: JWK[];
  /** A status other than 200 to answer with, or 'hang' to never answer; null serves the keys. */
  failure: number | 'hang' | null;
  /** Requests served so far. */
  readonly hits: () => number;
  close(): Promise<void>;
}

/** Starts a JWKS server on an ephemeral loopback port. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let hits = 0;
  const state: JwksServer = {
    url: '',
    keys,
    failure: null,
    hits: () => hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    hits++;
    if (state.failure === 'hang') return;
    if (state.failure !== null) {
      res.writeHead(state.failure).end('no');
      return;
    }
    const body = JSON.stringify({ keys: state.keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return state;
}

/** A loopback URL where nothing listens (the port was just released). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/jwks.json`;
}

/** A logger whose JSON lines the test can read. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 5_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Resolves with the first value of a callback subscription that satisfies `accept`; fails after `timeoutMs`. */
export function nextEvent<T>(
  subscribe: (fn: (v: T) => void) => () => void,
  accept: (v: T) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe((v) => {
      if (!accept(v)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(v);
    });
  });
}
