/**
 * Rate-limit response headers, with OpenAI's names so clients and SDKs that read them work as-is.
 *
 * - `x-ratelimit-limit-tokens`, `x-ratelimit-remaining-tokens` (floored at 0, also while
 *   overdrawn), `x-ratelimit-reset-tokens` (time until the bucket is full again, OpenAI's duration
 *   format `20ms`, `1.5s`, `6m0s`) describe one bucket: the one that refused, on a refusal;
 *   otherwise the input bucket when the route limits input, else the output bucket.
 * - When the route limits both, the output bucket also appears as `x-ratelimit-limit-output-tokens`,
 *   `x-ratelimit-remaining-output-tokens` and `x-ratelimit-reset-output-tokens`.
 * - On a refusal, `retry-after` in whole seconds: ceil(retryAfterMs / 1000), at least 1. Not sent
 *   when the request can never fit, since waiting does not help.
 */
import type { LimitDecision } from './rate-limiter';

/** The headers for a decision; empty when the budget has no limits. */
export function rateLimitHeaders(d: LimitDecision): Record<string, string> {
  const main = d.limitedBy === 'output' || d.input === null ? d.output : d.input;
  if (main === null) return {};
  const h: Record<string, string> = {
    'x-ratelimit-limit-tokens': String(main.limit),
    'x-ratelimit-remaining-tokens': String(Math.max(0, main.remaining)),
    'x-ratelimit-reset-tokens': formatResetDuration(main.resetMs),
  };
  if (d.input !== null && d.output !== null) {
    h['x-ratelimit-limit-output-tokens'] = String(d.output.limit);
    h['x-ratelimit-remaining-output-tokens'] = String(Math.max(0, d.output.remaining));
    h['x-ratelimit-reset-output-tokens'] = formatResetDuration(d.output.resetMs);
  }
  if (!d.allowed && !d.neverFits) h['retry-after'] = String(retryAfterSeconds(d.retryAfterMs));
  return h;
}

/** `Retry-After` seconds for a wait of `ms`: ceil(ms / 1000), at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * A duration as OpenAI's reset headers (and Go's time.Duration) print it, at ms precision:
 * under a second `Nms` (`0s` for zero), else `[Hh][Mm]S[.fff]s` with the minutes and seconds
 * always present once a larger unit is (`6m0s`, `1h0m0s`, `720h0m0s` for 30 days).
 */
export function formatResetDuration(ms: number): string {
  const total = Math.ceil(ms);
  if (total <= 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const secMs = total % 60_000;
  // Seconds with up to 3 decimals, trailing zeros trimmed: 1500 → "1.5", 8640 → "8.64".
  const s = secMs % 1000 === 0 ? String(secMs / 1000) : (secMs / 1000).toFixed(3).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
