import { regexExample } from './regex-example';

describe('regexExample', () => {
  it.each([
    ['premium', 'premium'],
    ['^premium$', 'premium'],
    ['^(gold|silver)-[0-9]+$', 'gold-0'],
    ['^(?:a|b)c?d*e+$', 'ae'],
    ['^team-\\d{3}$', 'team-000'],
    ['^v\\.\\d+\\.x$', 'v.0.x'],
    ['^[^a-z]{2}$', 'AA'],
    ['^\\w+@\\w+\\.com$', 'a@a.com'],
    ['^(?<tier>gold)$', 'gold'],
    ['^.+$', 'a'],
    ['^\\x41\\u0042$', 'AB'],
    ['a{2,5}?', 'aa'],
    ['^\\bword\\b$', 'word'],
    ['', ''],
  ])('builds a match for /%s/: %j', (source, want) => {
    const got = regexExample(source);
    expect(got).toBe(want);
    expect(new RegExp(source).test(got!)).toBe(true);
  });

  it.each([
    ['a look-ahead', '^(?=x)abc$'],
    ['a back-reference', '^(a)\\1$'],
    ['an empty class', '^[]$'],
    ['an invalid pattern', '^(a$'],
    ['only control characters', '^\\n$'],
    ['a built string the pattern refuses', '^(a$|b)c'],
  ])('returns null for %s', (_what, source) => {
    expect(regexExample(source)).toBeNull();
  });
});
