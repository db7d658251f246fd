import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/**
 * The server a simulated pod listens with: plain HTTP, or HTTPS when the pod has vLLM's
 * `--ssl-keyfile` and `--ssl-certfile` (PEM files, read once at start). Either way the same
 * handler serves every path, /metrics included, so scraping works the same over TLS.
 */

/** A pod's TLS files, named after vLLM's flags; both or neither. */
export interface PodTlsFiles {
  /** PEM private key (vLLM `--ssl-keyfile`). */
  sslKeyfile?: string;
  /** PEM certificate, optionally followed by its chain (vLLM `--ssl-certfile`). */
  sslCertfile?: string;
}

/** What a pod listens with. */
export type PodServer = http.Server | https.Server;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function readPem(where: string, flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${where}: cannot read ${flag} ${path}: ${(e as Error).message}`);
  }
}

/** Whether the pod serves HTTPS. */
export function hasTls(files: PodTlsFiles): boolean {
  return files.sslKeyfile !== undefined && files.sslCertfile !== undefined;
}

/**
 * An unbound server for `handler`, HTTPS when `files` name a key and certificate. Throws, naming
 * `where` and the file, when one cannot be read or they do not form a key pair.
 */
export function createPodServer(files: PodTlsFiles, where: string, handler: Handler): PodServer {
  let server: PodServer;
  if (hasTls(files)) {
    const key = readPem(where, '--ssl-keyfile', files.sslKeyfile as string);
    const cert = readPem(where, '--ssl-certfile', files.sslCertfile as string);
    try {
      server = https.createServer({ key, cert }, handler);
    } catch (e) {
      throw new Error(`${where}: bad --ssl-keyfile/--ssl-certfile pair: ${(e as Error).message}`);
    }
  } else {
    server = http.createServer(handler);
  }
  // Routers keep connections alive; outlive their (usually 60 s) idle timeouts.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Streams may legitimately last minutes.
  server.requestTimeout = 0;
  return server;
}
