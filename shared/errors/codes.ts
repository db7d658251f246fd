/**
 * The one registry of Sluice error codes. Every error a client, an operator log or a status
 * condition can show has a code here, with the HTTP status it maps to, the OpenAI error `type`
 * and whether a client may retry it. `docs/errors.md` lists the same codes; a test keeps both in sync.
 */

/** One registered error code. */
export interface ErrorCodeSpec {
  /** HTTP status the data plane answers with. */
  readonly status: number;
  /** OpenAI-style `error.type`. */
  readonly type: 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';
  /** True when the same request may succeed if sent again later. */
  readonly retryable: boolean;
  /** One line for docs/errors.md: when the code is returned. */
  readonly when: string;
}

/** Every error code Sluice can return, by name. */
export const ERROR_CODES = {
  SLUICE_INVALID_JSON: { status: 400, type: 'invalid_request_error', retryable: false, when: 'The request body is not valid JSON or not a JSON object.' },
  SLUICE_INVALID_REQUEST: { status: 400, type: 'invalid_request_error', retryable: false, when: 'A required field is missing or has the wrong type (for example `model`).' },
  SLUICE_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error', retryable: false, when: 'The request body is larger than the data plane\'s `--max-body-bytes`.' },
  SLUICE_JSON_TOO_DEEP: { status: 400, type: 'invalid_request_error', retryable: false, when: 'The request body nests objects and arrays deeper than the data plane\'s `--max-json-depth` (default 64).' },
  SLUICE_REQUEST_TIMEOUT: { status: 408, type: 'invalid_request_error', retryable: true, when: 'The request body did not arrive within the data plane\'s `--request-body-timeout-ms` (default 30 s); the connection is closed.' },
  SLUICE_MODEL_NOT_FOUND: { status: 404, type: 'not_found_error', retryable: false, when: 'No ModelRoute has this `model` as its modelName or among its loraAdapters, or no rule of those routes matched the request.' },
  SLUICE_NOT_FOUND: { status: 404, type: 'not_found_error', retryable: false, when: 'The path is not an endpoint the data plane serves.' },
  SLUICE_METHOD_NOT_ALLOWED: { status: 405, type: 'invalid_request_error', retryable: false, when: 'The endpoint exists but not for this HTTP method.' },
  SLUICE_TARGET_UNRESOLVED: { status: 500, type: 'server_error', retryable: false, when: 'The chosen rule target names a ModelServer or ExternalModelProvider that does not exist; the route\'s ResolvedRefs condition says which.' },
  SLUICE_PROVIDER_UNAVAILABLE: { status: 503, type: 'server_error', retryable: true, when: 'The chosen ExternalModelProvider has no usable credential: its Secret or key is missing (its Ready condition says which), or this data plane has not been sent it yet.' },
  SLUICE_NO_ENDPOINTS: { status: 503, type: 'server_error', retryable: true, when: 'The chosen ModelServer has no Running and Ready pod, or every endpoint failed before sending a response.' },
  SLUICE_NOT_READY: { status: 503, type: 'server_error', retryable: true, when: 'The data plane has not received a routing snapshot yet.' },
  SLUICE_UPSTREAM_TIMEOUT: { status: 504, type: 'server_error', retryable: true, when: 'The engine did not answer within the ModelServer\'s `trafficPolicy.timeout`, or, for a ModelServer without one, sent no response headers within the data plane\'s `--upstream-first-byte-timeout-ms` (default 300 s).' },
  SLUICE_UPSTREAM_ERROR: { status: 502, type: 'server_error', retryable: true, when: 'The engine failed after the response had started, or answered with something that is not HTTP.' },
  SLUICE_SNAPSHOT_INVALID: { status: 400, type: 'invalid_request_error', retryable: false, when: 'Admin API: a pushed snapshot failed validation; the previous snapshot keeps serving.' },
  SLUICE_SNAPSHOT_STALE: { status: 409, type: 'invalid_request_error', retryable: false, when: 'Admin API: a pushed snapshot has a lower version than the one serving, or the same version with other content.' },
  SLUICE_UNAUTHORIZED: { status: 401, type: 'authentication_error', retryable: false, when: 'Admin API: the bearer token is missing or wrong: `PUT /v1/snapshot` needs the push token, the full snapshot and `/debug/config_dump/*` the read or the push token.' },
  SLUICE_AUTH_REQUIRED: { status: 401, type: 'authentication_error', retryable: false, when: 'Authentication is configured and the request carries no API key or bearer token.' },
  SLUICE_AUTH_INVALID: { status: 401, type: 'authentication_error', retryable: false, when: 'The API key is unknown, or the JWT failed verification (signature, issuer, audience, expiry or algorithm); the message says which.' },
  SLUICE_AUTH_UNAVAILABLE: { status: 503, type: 'server_error', retryable: true, when: 'Credentials cannot be checked right now: the JWKS could not be fetched, or the API key file has never loaded.' },
  SLUICE_RATE_LIMITED: { status: 429, type: 'rate_limit_error', retryable: true, when: 'The route\'s input or output token limit is used up; `Retry-After` and `x-ratelimit-*` headers say when it refills.' },
  SLUICE_RATE_LIMIT_UNAVAILABLE: { status: 503, type: 'server_error', retryable: true, when: 'A global limit\'s Redis is unreachable and the route fails closed (`rateLimit.global.failureMode: closed`).' },
  SLUICE_QUEUE_FULL: { status: 503, type: 'server_error', retryable: true, when: 'The ModelServer\'s request queue overflowed its byte or request bound and dropped this (oldest) request.' },
  SLUICE_QUEUE_TIMEOUT: { status: 503, type: 'server_error', retryable: true, when: 'The request waited in the ModelServer\'s queue longer than its queue TTL.' },
  SLUICE_OVERLOADED: { status: 503, type: 'server_error', retryable: true, when: 'Request bodies in flight on this data plane already fill `--max-inflight-body-bytes` (default 128 MiB); the connection is closed.' },
  SLUICE_INTERNAL: { status: 500, type: 'server_error', retryable: true, when: 'A bug in Sluice; the access log has the details.' },
} as const satisfies Record<string, ErrorCodeSpec>;

/** A registered error code name. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error carrying a registered code; the error middleware turns it into an HTTP answer. */
export class SluiceError extends Error {
  /** The registered code. */
  readonly code: ErrorCode;
  /** The HTTP status from the registry. */
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }
}

/** The OpenAI-shaped error body: `{"error":{"message","type","code"}}`, plus `param` when known. */
export function errorBody(code: ErrorCode, message: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type: ERROR_CODES[code].type, param, code } });
}
