import { AdminTokens, bearerCredential } from './admin-tokens';

describe('bearerCredential', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['BeArEr   abc  ', 'abc'],
    ['Bearer\tabc', 'abc'],
    ['Basic abc', null],
    ['Bearer', null],
    ['Bearer ', null],
    ['abc', null],
    ['Bearer a b', null],
    ['', null],
    [undefined, null],
  ])('%j → %j', (header, want) => {
    expect(bearerCredential(header)).toBe(want);
  });
});

describe('AdminTokens', () => {
  const both = new AdminTokens('push-secret', 'read-secret');
  const pushOnly = new AdminTokens('push-secret', null);
  const readOnly = new AdminTokens(null, 'read-secret');
  const none = new AdminTokens(null, null);

  it.each([
    // tokens, header, canPush, canRead
    ['both', both, 'Bearer push-secret', true, true],
    ['both', both, 'bearer push-secret', true, true],
    ['both', both, 'Bearer read-secret', false, true],
    ['both', both, 'BEARER read-secret', false, true],
    ['both', both, 'Bearer wrong', false, false],
    ['both', both, 'Basic read-secret', false, false],
    ['both', both, undefined, false, false],
    ['push only', pushOnly, 'Bearer push-secret', true, true],
    ['push only', pushOnly, 'Bearer read-secret', false, false],
    ['push only', pushOnly, undefined, false, false],
    ['read only', readOnly, undefined, true, false],
    ['read only', readOnly, 'Bearer read-secret', true, true],
    ['none', none, undefined, true, true],
  ] as const)('%s, %j: push %s, read %s', (_what, tokens, header, push, read) => {
    expect([tokens.canPush(header), tokens.canRead(header)]).toEqual([push, read]);
  });

  it('reports reads open only when no token is configured', () => {
    expect([both.readsOpen, pushOnly.readsOpen, readOnly.readsOpen, none.readsOpen]).toEqual([false, false, false, true]);
  });
});
