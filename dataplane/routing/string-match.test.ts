import { compileMatch } from './string-match';

describe('compileMatch', () => {
  // [match, value, expected]: `undefined` is a header the request does not carry.
  it.each([
    [{ exact: 'premium' }, 'premium', true],
    [{ exact: 'premium' }, 'premium-trial', false],
    [{ exact: 'premium' }, undefined, false],
    [{ exact: '' }, '', true],
    [{ prefix: 'prem' }, 'premium', true],
    [{ prefix: 'prem' }, 'pre', false],
    [{ prefix: '' }, undefined, false],
    [{ regex: '^p.*m$' }, 'premium', true],
    [{ regex: 'mium' }, 'premium', true],
    [{ regex: '^x' }, 'premium', false],
    [{ regex: '.*' }, undefined, false],
    // No matcher: every value matches, and so does an absent header, as Kthena's matchString
    // (pkg/kthena-router/datastore) falls through to true.
    [{}, 'premium', true],
    [{}, '', true],
    [{}, undefined, true],
  ] as const)('%j on %j is %s', (match, value, expected) => {
    expect(compileMatch(match)(value)).toBe(expected);
  });
});
