import { translateOnigPattern } from './onig-regex';
import { SPLIT_PATTERNS } from './pre-token-scanner';

function compile(pattern: string): RegExp {
  const t = translateOnigPattern(pattern);
  if (!t.ok) throw new Error(t.reason);
  return t.re;
}

describe('translateOnigPattern', () => {
  it('rewrites (?i:...) to ASCII folding, as the library does', () => {
    const re = compile("(?i:'s|'ll)|x");
    expect("'S 'Ll 'ſ X x".match(re)).toEqual(["'S", "'Ll", 'x']);
  });

  it('reads \\s and \\S as the White_Space property (U+0085 yes, U+FEFF no)', () => {
    const re = compile('\\s+|\\S+');
    expect('a\u0085\u00a0b\ufeffc'.match(re)).toEqual(['a', '\u0085\u00a0', 'b\ufeffc']);
  });

  it('keeps quantifiers, lookaheads, classes and lazy forms', () => {
    // The second space matches no alternative (it is followed by \S): a gap, as in Oniguruma.
    expect('aaaa  b'.match(compile('a{1,3}|\\s+(?!\\S)|[^\\s]+?'))).toEqual(['aaa', 'a', ' ', 'b']);
  });

  it.each(Object.values(SPLIT_PATTERNS))('translates the shipped pattern %s', (p) => {
    expect(translateOnigPattern(p).ok).toBe(true);
  });

  it.each([
    ['\\w+', /escape \\w/],
    ['(?i:[a-z])', /class inside \(\?i:/],
    ['(?i:\\p{Lu})', /class escape inside/],
    ['(?i:é)', /non-ASCII cased/],
    ['a++', /possessive/],
    ['^a', /anchors/],
    ['\\p{NotAProperty}', /does not know the property/],
    ['(?<name>x)', /group kind/],
    ['[[:alpha:]]', /nested class/],
    ['[a&&b]', /intersection/],
    ['(a', /unbalanced \(/],
    ['a)', /unbalanced \)/],
    ['x{,3}', /open-ended/],
  ])('refuses %s', (pattern, reason) => {
    const t = translateOnigPattern(pattern);
    expect(t.ok).toBe(false);
    expect(t.ok ? '' : t.reason).toMatch(reason);
  });
});
