import { formatResetDuration, rateLimitHeaders, retryAfterSeconds } from './headers';
import type { LimitDecision } from './rate-limiter';

describe('formatResetDuration', () => {
  it.each([
    [0, '0s'],
    [0.2, '1ms'],
    [20, '20ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [8_640, '8.64s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [3_723_500, '1h2m3.5s'],
    [3_600_000, '1h0m0s'],
    [30 * 86_400_000, '720h0m0s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});

describe('retryAfterSeconds', () => {
  it.each([[0, 1], [1, 1], [1_000, 1], [1_001, 2], [18_000, 18]])('%d ms → %d s', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

const bucket = (limit: number, remaining: number, resetMs: number) => ({ limit, remaining, resetMs });
const allowed = { allowed: true, limitedBy: null, neverFits: false, retryAfterMs: 0, degraded: false } as const;

describe('rateLimitHeaders', () => {
  it.each<[string, LimitDecision, Record<string, string>]>([
    ['no limits', { ...allowed, input: null, output: null }, {}],
    ['input only', { ...allowed, input: bucket(10_000, 9_000, 6_000), output: null },
      { 'x-ratelimit-limit-tokens': '10000', 'x-ratelimit-remaining-tokens': '9000', 'x-ratelimit-reset-tokens': '6s' }],
    ['output only', { ...allowed, input: null, output: bucket(5_000, 4_999, 12) },
      { 'x-ratelimit-limit-tokens': '5000', 'x-ratelimit-remaining-tokens': '4999', 'x-ratelimit-reset-tokens': '12ms' }],
    ['both, allowed', { ...allowed, input: bucket(10_000, 9_000, 6_000), output: bucket(5_000, 0, 360_000) }, {
      'x-ratelimit-limit-tokens': '10000', 'x-ratelimit-remaining-tokens': '9000', 'x-ratelimit-reset-tokens': '6s',
      'x-ratelimit-limit-output-tokens': '5000', 'x-ratelimit-remaining-output-tokens': '0', 'x-ratelimit-reset-output-tokens': '6m0s',
    }],
    ['input refused', { ...allowed, allowed: false, limitedBy: 'input', retryAfterMs: 18_000, input: bucket(10, 2, 48_000), output: null },
      { 'x-ratelimit-limit-tokens': '10', 'x-ratelimit-remaining-tokens': '2', 'x-ratelimit-reset-tokens': '48s', 'retry-after': '18' }],
    ['output refused while overdrawn', { ...allowed, allowed: false, limitedBy: 'output', retryAfterMs: 1_500, input: bucket(100, 50, 30_000), output: bucket(60, -30, 90_000) }, {
      'x-ratelimit-limit-tokens': '60', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1m30s',
      'x-ratelimit-limit-output-tokens': '60', 'x-ratelimit-remaining-output-tokens': '0', 'x-ratelimit-reset-output-tokens': '1m30s',
      'retry-after': '2',
    }],
    ['never fits', { ...allowed, allowed: false, limitedBy: 'input', neverFits: true, input: bucket(10, 10, 0), output: null },
      { 'x-ratelimit-limit-tokens': '10', 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-reset-tokens': '0s' }],
  ])('%s', (_name, decision, headers) => {
    expect(rateLimitHeaders(decision)).toEqual(headers);
  });
});
