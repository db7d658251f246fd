import { planChunking } from './chunk-plan';
import { translateOnigPattern } from './onig-regex';
import { PreTokenScanner, SPLIT_PATTERNS, splitFamily, type SplitFamily, type WhitespaceClass } from './pre-token-scanner';
import { mulberry32 } from '../util/random';

/** The library's ByteLevel built-in regex (V8 `\s`), the reference for the 'js' class. */
const BYTE_LEVEL = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function reference(family: SplitFamily, ws: WhitespaceClass): RegExp {
  if (ws === 'js') return BYTE_LEVEL;
  const t = translateOnigPattern(SPLIT_PATTERNS[family]);
  if (!t.ok) throw new Error(t.reason);
  return t.re;
}

function scan(sc: PreTokenScanner, s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    const j = sc.next(s, i);
    if (!(j > i)) throw new Error(`no progress at ${i} in ${JSON.stringify(s)}`);
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

/** Characters at every decision point of the alternations: contraction letters in both cases,
 * each whitespace flavour, letters, numbers and others in the BMP and beyond, lone surrogates. */
const ALPHABET = [
  "'", 's', 'S', 't', 'T', 'r', 'R', 'e', 'E', 'v', 'V', 'l', 'L', 'm', 'M', 'd', 'D', 'x', 'é', 'ſ', ' ', ' ', '\t',
  '\n', '\r', '\u00a0', '\u0085', '\ufeff', '\u3000', '\u2028', '1', '٣', '²', '.', ',', '!', '-', '🎉', '𝟘', '𠀀',
  '\ud800', '\udc00', '中', '\u0301', '_',
];

describe('PreTokenScanner gives the regex boundaries', () => {
  it.each<[SplitFamily, WhitespaceClass]>([['qwen2', 'unicode'], ['llama3', 'unicode'], ['gpt2', 'unicode'], ['gpt2', 'js']])(
    '%s with %s whitespace on 30k random strings',
    (family, ws) => {
      const re = reference(family, ws);
      const sc = new PreTokenScanner(family, ws);
      const rnd = mulberry32(family.length * 31 + ws.length);
      for (let it = 0; it < 30_000; it++) {
        let s = '';
        const len = Math.floor(rnd() * 16);
        for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
        const expected = s.match(re) ?? [];
        const got = scan(sc, s);
        if (got.join('\u0000') !== expected.join('\u0000')) expect([s, got]).toEqual([s, expected]);
      }
    },
  );

  it.each<[SplitFamily, string, string[]]>([
    ['qwen2', "DON'T we'LL", ['DON', "'T", ' we', "'LL"]],
    ['gpt2', "DON'T we'll", ['DON', "'", 'T', ' we', "'ll"]],
    ['qwen2', '  \n  x', ['  \n', ' ', ' x']],
    ['qwen2', 'a.\n\nb', ['a', '.\n\n', 'b']],
    ['qwen2', '12345', ['1', '2', '3', '4', '5']],
    ['llama3', '12345', ['123', '45']],
    ['gpt2', '12345 67', ['12345', ' 67']],
    ['qwen2', '🎉abc   ', ['🎉abc', '   ']],
    ['gpt2', ' \n x', [' \n', ' x']],
  ])('%s splits %j', (family, text, pieces) => {
    expect(scan(new PreTokenScanner(family, 'unicode'), text)).toEqual(pieces);
  });

  it.each(Object.entries(SPLIT_PATTERNS))('the %s pattern is one chunk-plan.ts accepts (the lists agree)', (family, pattern) => {
    const json = {
      model: { type: 'BPE', vocab: {}, merges: [] },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
    };
    expect(planChunking(json)).toMatchObject({ chunked: true });
    expect(splitFamily(pattern)).toBe(family);
  });

  it('does not know other patterns', () => {
    expect(splitFamily('\\w+|\\s+')).toBeNull();
  });
});
