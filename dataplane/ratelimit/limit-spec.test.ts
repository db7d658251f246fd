import { UNIT_MS, budgetFor, budgetKey, limitsFor, unitName, type LimitScope, type RouteRateLimit } from './limit-spec';

const alice = { user: 'alice', tier: 'premium' };
const bob = { user: 'bob', tier: null };

describe('budget keys', () => {
  it.each([
    ['route', alice, 'default/deepseek|route'],
    ['user', alice, 'default/deepseek|user:alice'],
    ['user', bob, 'default/deepseek|user:bob'],
    ['tier', alice, 'default/deepseek|tier:premium'],
    ['tier', bob, 'default/deepseek|tier:none'],
  ] as const)('per %s for %j is %s', (per: LimitScope, identity, key) => {
    expect(budgetKey('default/deepseek', per, identity)).toBe(key);
  });
});

describe('limitsFor', () => {
  const rl: RouteRateLimit = {
    inputTokensPerUnit: 10_000,
    outputTokensPerUnit: 5_000,
    unit: 'minute',
    per: 'user',
    tiers: { premium: { inputTokensPerUnit: 100_000, outputTokensPerUnit: 50_000 }, batch: { outputTokensPerUnit: 1_000 } },
  };

  it.each([
    [null, 10_000, 5_000],
    ['premium', 100_000, 50_000],
    ['batch', 10_000, 1_000],
    ['unknown', 10_000, 5_000],
    ['constructor', 10_000, 5_000],
  ])('tier %s gets input %d, output %d per minute', (tier, input, output) => {
    expect(limitsFor(rl, tier)).toEqual({ inputPerUnit: input, outputPerUnit: output, unitMs: 60_000 });
  });

  it('leaves an unset limit unenforced', () => {
    expect(limitsFor({ outputTokensPerUnit: 5, unit: 'month' }, null)).toEqual({ inputPerUnit: null, outputPerUnit: 5, unitMs: 30 * 86_400_000 });
  });

  it.each(Object.entries(UNIT_MS))('names the unit %s back from %d ms', (name, ms) => {
    expect(unitName(ms)).toBe(name);
  });
});

describe('budgetFor', () => {
  const base: RouteRateLimit = { inputTokensPerUnit: 10, unit: 'second', tiers: { premium: { inputTokensPerUnit: 100 } } };

  it('gives one route-wide budget and ignores tiers by default', () => {
    expect(budgetFor('ns/r', base, alice)).toEqual({
      key: 'ns/r|route', route: 'ns/r', scope: 'route', spec: { inputPerUnit: 10, outputPerUnit: null, unitMs: 1_000 }, redis: null,
    });
  });

  it('applies the tier per user and defaults failureMode to open', () => {
    const b = budgetFor('ns/r', { ...base, per: 'user', global: { redis: { address: 'redis:6379' } } }, alice);
    expect(b).toMatchObject({ key: 'ns/r|user:alice', scope: 'user:alice', spec: { inputPerUnit: 100 }, redis: { address: 'redis:6379', failureMode: 'open' } });
  });

  it('keeps failureMode closed when set', () => {
    const b = budgetFor('ns/r', { ...base, per: 'tier', global: { redis: { address: 'r:1' }, failureMode: 'closed' } }, bob);
    expect(b).toMatchObject({ key: 'ns/r|tier:none', redis: { address: 'r:1', failureMode: 'closed' } });
  });
});
