/**
 * Go-style duration strings (`10s`, `1m30s`, `250ms`, `1.5h`) as used in Kubernetes APIs
 * such as `trafficPolicy.timeout` and `retry.retryInterval`.
 */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Parses a Go duration to milliseconds; returns null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  if (text.length === 0) return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== start) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

/** Formats milliseconds the way Go prints a duration, for messages and dumps. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 === 0 && ms < 60_000) return `${ms / 1000}s`;
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}
