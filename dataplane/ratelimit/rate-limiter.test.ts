import pino from 'pino';
import { SluiceError } from '../../shared/errors/codes';
import { budgetFor, type RouteRateLimit } from './limit-spec';
import { RateLimiter, type LimitDecision } from './rate-limiter';
import { refusalError } from './refusal';

const log = pino({ level: 'silent' });
const ROUTE = 'default/deepseek';

function limiter() {
  const clock = { t: 0 };
  return { clock, rl: new RateLimiter({ log, now: () => clock.t }) };
}

/** Local checks answer synchronously; a Promise here would be a hot-path regression. */
function sync(d: LimitDecision | Promise<LimitDecision>): LimitDecision {
  if (d instanceof Promise) throw new Error('local check returned a Promise');
  return d;
}

describe('RateLimiter with local budgets', () => {
  afterEach(() => jest.restoreAllMocks());

  it('answers the brief\'s example: 10 per minute, 8 used, 5 more asked', () => {
    const { rl } = limiter();
    const budget = budgetFor(ROUTE, { inputTokensPerUnit: 10, unit: 'minute' }, { user: 'u', tier: null });
    expect(sync(rl.check(budget, 8)).allowed).toBe(true);
    const d = sync(rl.check(budget, 5));
    expect(d).toEqual({
      allowed: false, limitedBy: 'input', neverFits: false, retryAfterMs: 18_000,
      input: { limit: 10, remaining: 2, resetMs: 48_000 }, output: null, degraded: false,
    });
    const err = refusalError(budget, d, 5);
    expect(err).toBeInstanceOf(SluiceError);
    expect([err.code, err.status, err.message]).toEqual(['SLUICE_RATE_LIMITED', 429,
      'input token limit of route default/deepseek exceeded: 10 tokens per minute, this request needs about 5, 2 remain; retry in 18s']);
  });

  it('refuses with a message saying a too-large request can never fit', () => {
    const { rl } = limiter();
    const budget = budgetFor(ROUTE, { inputTokensPerUnit: 10, unit: 'minute', per: 'user' }, { user: 'alice', tier: null });
    const d = sync(rl.check(budget, 11));
    expect(d).toMatchObject({ allowed: false, limitedBy: 'input', neverFits: true, retryAfterMs: 0 });
    expect(refusalError(budget, d, 11).message).toBe(
      'this request needs about 11 input tokens but the input token limit of route default/deepseek for user alice is 10 per minute: it can never fit; shorten the prompt or raise rateLimit.inputTokensPerUnit');
  });

  it('charges output after the response, overdraws, and recovers once refilled above zero', () => {
    const { clock, rl } = limiter();
    const budget = budgetFor(ROUTE, { inputTokensPerUnit: 1_000, outputTokensPerUnit: 100, unit: 'second', per: 'tier' }, { user: 'u', tier: 'free' });
    expect(sync(rl.check(budget, 100)).allowed).toBe(true);
    expect(rl.charge(budget, -20, 250)).toBeUndefined(); // local: no Promise
    const d = sync(rl.check(budget, 100));
    // Output at 100 − 250 = −150: above zero after 150 tokens at 0.1 per ms = 1500 ms, +1.
    expect(d).toMatchObject({ allowed: false, limitedBy: 'output', retryAfterMs: 1_501, output: { limit: 100, remaining: -150, resetMs: 2_500 } });
    expect(d.input).toEqual({ limit: 1_000, remaining: 920, resetMs: 80 });
    expect(refusalError(budget, d, 100).message).toBe(
      'output token limit of route default/deepseek for tier free exceeded: 100 tokens per second, none remain (earlier responses overdrew it by 150); retry in 2s');
    clock.t += 1_501;
    expect(sync(rl.check(budget, 100))).toMatchObject({ allowed: true, output: { remaining: 0 } });
  });

  it('keeps separate budgets per user and applies tier limits', () => {
    const { rl } = limiter();
    const rate: RouteRateLimit = { inputTokensPerUnit: 10, unit: 'hour', per: 'user', tiers: { premium: { inputTokensPerUnit: 100 } } };
    const alice = budgetFor(ROUTE, rate, { user: 'alice', tier: 'premium' });
    const bob = budgetFor(ROUTE, rate, { user: 'bob', tier: null });
    expect(sync(rl.check(alice, 50)).allowed).toBe(true);
    expect(sync(rl.check(bob, 50)).neverFits).toBe(true);
    expect(sync(rl.check(bob, 10)).allowed).toBe(true);
    expect(sync(rl.check(bob, 1)).allowed).toBe(false);
    expect(sync(rl.check(alice, 50)).allowed).toBe(true);
  });

  it('admits everything, without state, when the route sets neither limit', () => {
    const { rl } = limiter();
    const budget = budgetFor(ROUTE, { unit: 'second' }, { user: 'u', tier: null });
    expect(sync(rl.check(budget, 1e9))).toMatchObject({ allowed: true, input: null, output: null });
    expect(rl.charge(budget, 5, 5)).toBeUndefined();
  });
});
