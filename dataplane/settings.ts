/**
 * Data-plane process settings, parsed once at start from flags and environment into a frozen
 * object. Every flag has an environment twin (`--max-body-bytes` ↔ `SLUICE_MAX_BODY_BYTES`);
 * flags win. A bad value stops the process with a message naming the flag.
 */
import { readFileSync } from 'node:fs';

/** Everything the data plane is configured with. */
export interface DataplaneSettings {
  /** Traffic listener (OpenAI API), host:port. */
  readonly listen: { host: string; port: number };
  /** Admin listener (snapshot intake, metrics, debug), host:port. */
  readonly admin: { host: string; port: number };
  /** Bearer token the operator must present on PUT /v1/snapshot; null accepts any caller. */
  readonly pushToken: string | null;
  /**
   * Bearer token that may read the full snapshot and the debug dumps but not push. With neither
   * token set those reads are open (admin-tokens.ts).
   */
  readonly readToken: string | null;
  /** Snapshot file read at start (the mounted ConfigMap copy); null for none. */
  readonly snapshotFile: string | null;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Request-body bytes held by all requests at once; more gets 503 SLUICE_OVERLOADED. */
  readonly maxInflightBodyBytes: number;
  /** Longest a request body may take to arrive, ms; then 408 SLUICE_REQUEST_TIMEOUT. */
  readonly requestBodyTimeoutMs: number;
  /** Longest the request headers may take to arrive, ms (Node's headersTimeout). */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive client connection is closed after this long, ms. */
  readonly keepAliveTimeoutMs: number;
  /** Deepest nesting of objects and arrays accepted in a request body. */
  readonly maxJsonDepth: number;
  /** Upstream connect timeout in ms. */
  readonly connectTimeoutMs: number;
  /**
   * Longest wait for an engine's response headers when the ModelServer sets no
   * `trafficPolicy.timeout`, ms; then 504 SLUICE_UPSTREAM_TIMEOUT. Never cuts a response whose
   * headers arrived (docs/traffic-policy.md).
   */
  readonly upstreamFirstByteTimeoutMs: number;
  /** Keep-alive connections per endpoint. */
  readonly connectionsPerEndpoint: number;
  /** Log level for pino. */
  readonly logLevel: string;
  /** Write one access-log line per request. */
  readonly accessLog: boolean;
  /** Add the `x-sluice-decision` response header: chosen endpoint and each plugin's score. */
  readonly decisionHeader: boolean;
  /** Engine metrics scrape period, timeout, and the age after which metrics are stale. */
  readonly scrape: { intervalMs: number; timeoutMs: number; staleAfterMs: number };
  /** KV blocks the engine-event index keeps per pod (memory bound; docs/kv-cache-aware.md). */
  readonly kvBlocksPerPod: number;
}

const FLAGS = {
  listen: '0.0.0.0:8080',
  admin: '127.0.0.1:8081',
  'push-token': '',
  'push-token-file': '',
  'read-token': '',
  'read-token-file': '',
  'snapshot-file': '',
  'max-body-bytes': String(8 * 1024 * 1024),
  'max-inflight-body-bytes': String(128 * 1024 * 1024),
  'request-body-timeout-ms': '30000',
  'headers-timeout-ms': '15000',
  'keep-alive-timeout-ms': '65000',
  'max-json-depth': '64',
  'connect-timeout-ms': '2000',
  // 5 min: a non-streamed answer sends its headers only when generation is done (thousands of
  // tokens at tens per second), and a busy engine may queue a request for a while first.
  'upstream-first-byte-timeout-ms': '300000',
  'connections-per-endpoint': '64',
  'log-level': 'info',
  'access-log': 'true',
  'decision-header': 'false',
  'scrape-interval-ms': '1000',
  'scrape-timeout-ms': '500',
  'stale-after-ms': '3000',
  'kv-blocks-per-pod': '262144',
} as const;

type FlagName = keyof typeof FLAGS;

function hostPort(flag: string, text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--${flag}: expected host:port such as 0.0.0.0:8080, got ${JSON.stringify(text)}`);
  }
  return { host: text.slice(0, i) || '0.0.0.0', port };
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}: expected a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}

/** Parses argv and env. Throws one Error listing every bad flag. */
export function parseDataplaneSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DataplaneSettings {
  const values: Record<string, string> = { ...FLAGS };
  for (const name of Object.keys(FLAGS)) {
    const fromEnv = env[`SLUICE_${name.toUpperCase().replace(/-/g, '_')}`];
    if (fromEnv !== undefined) values[name] = fromEnv;
  }
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1]! in FLAGS)) {
      errors.push(`unknown argument ${JSON.stringify(arg)}; known flags: ${Object.keys(FLAGS).map((f) => `--${f}`).join(', ')}`);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) errors.push(`--${m[1]} needs a value`);
    else values[m[1] as FlagName] = value;
  }
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      errors.push((err as Error).message);
      return undefined;
    }
  };
  const token = (name: 'push-token' | 'read-token'): string | null => {
    const file = values[`${name}-file`];
    if (!file) return values[name] || null;
    const text = attempt(() => readFileSync(file, 'utf8').trim());
    // An empty file would silently mean "no token": everything open. Say so instead.
    if (text === '') errors.push(`--${name}-file ${file} is empty`);
    return text || null;
  };
  const pushToken = token('push-token');
  const readToken = token('read-token');
  const settings: DataplaneSettings = {
    listen: attempt(() => hostPort('listen', values.listen!)) ?? { host: '', port: 0 },
    admin: attempt(() => hostPort('admin', values.admin!)) ?? { host: '', port: 0 },
    pushToken,
    readToken,
    snapshotFile: values['snapshot-file'] || null,
    maxBodyBytes: attempt(() => positiveInt('max-body-bytes', values['max-body-bytes']!)) ?? 0,
    maxInflightBodyBytes: attempt(() => positiveInt('max-inflight-body-bytes', values['max-inflight-body-bytes']!)) ?? 0,
    requestBodyTimeoutMs: attempt(() => positiveInt('request-body-timeout-ms', values['request-body-timeout-ms']!)) ?? 0,
    headersTimeoutMs: attempt(() => positiveInt('headers-timeout-ms', values['headers-timeout-ms']!)) ?? 0,
    keepAliveTimeoutMs: attempt(() => positiveInt('keep-alive-timeout-ms', values['keep-alive-timeout-ms']!)) ?? 0,
    maxJsonDepth: attempt(() => positiveInt('max-json-depth', values['max-json-depth']!)) ?? 0,
    connectTimeoutMs: attempt(() => positiveInt('connect-timeout-ms', values['connect-timeout-ms']!)) ?? 0,
    upstreamFirstByteTimeoutMs: attempt(() => positiveInt('upstream-first-byte-timeout-ms', values['upstream-first-byte-timeout-ms']!)) ?? 0,
    connectionsPerEndpoint: attempt(() => positiveInt('connections-per-endpoint', values['connections-per-endpoint']!)) ?? 0,
    logLevel: values['log-level']!,
    accessLog: values['access-log'] !== 'false',
    decisionHeader: values['decision-header'] === 'true',
    scrape: {
      intervalMs: attempt(() => positiveInt('scrape-interval-ms', values['scrape-interval-ms']!)) ?? 0,
      timeoutMs: attempt(() => positiveInt('scrape-timeout-ms', values['scrape-timeout-ms']!)) ?? 0,
      staleAfterMs: attempt(() => positiveInt('stale-after-ms', values['stale-after-ms']!)) ?? 0,
    },
    kvBlocksPerPod: attempt(() => positiveInt('kv-blocks-per-pod', values['kv-blocks-per-pod']!)) ?? 0,
  };
  if (settings.maxInflightBodyBytes && settings.maxBodyBytes && settings.maxInflightBodyBytes < settings.maxBodyBytes) {
    errors.push(`--max-inflight-body-bytes (${settings.maxInflightBodyBytes}) is below --max-body-bytes (${settings.maxBodyBytes}): a largest allowed body could never be read`);
  }
  if (pushToken && readToken && pushToken === readToken) {
    errors.push('--read-token is the same as --push-token: whoever may read could also push; use two different tokens');
  }
  if (errors.length) throw new Error(`invalid data-plane settings:\n  ${errors.join('\n  ')}`);
  return Object.freeze(settings);
}
