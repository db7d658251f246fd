import { naturalLength, NATURAL_MAX_TOKENS, NATURAL_MIN_TOKENS, OutputText } from './output-text';
import { fnv1a32, hashTokens, renderChat, splitPieces, tokenize } from './tokenizer';

describe('tokenizer', () => {
  it.each([
    ['plain words', 'Hello world, how are you?', ['Hello', ' world', ',', ' how', ' are', ' you', '?']],
    ['long word chunked by 6', 'internationalization', ['intern', 'ationa', 'lizati', 'on']],
    ['trailing whitespace', 'hi  ', ['hi', '  ']],
    ['newlines attach to the next piece', 'a\nb', ['a', '\nb']],
    ['empty', '', []],
  ])('splits %s', (_name, text, pieces) => {
    expect(splitPieces(text)).toEqual(pieces);
  });

  it.each([
    'The quick brown fox jumps over the lazy dog.',
    '  leading and trailing  \n',
    'unicode: 你好世界 🙂 café',
    '<|im_start|>user\nhi<|im_end|>\n',
  ])('is lossless and deterministic for %j', (text) => {
    expect(splitPieces(text).join('')).toBe(text);
    expect(tokenize(text)).toEqual(tokenize(text));
  });

  it('gives equal prefixes equal ids and different text different ids', () => {
    const a = tokenize('You are a helpful assistant. Question one');
    const b = tokenize('You are a helpful assistant. Question two');
    expect(a.slice(0, -1)).toEqual(b.slice(0, -1));
    expect(a[a.length - 1]).not.toBe(b[b.length - 1]);
  });

  it('averages roughly 4-5 characters per token on prose', () => {
    const prose = 'Routers for inference traffic balance load across replicas while keeping prefix caches warm. '.repeat(20);
    const ratio = prose.length / tokenize(prose).length;
    expect(ratio).toBeGreaterThan(3);
    expect(ratio).toBeLessThan(6);
  });

  it('hashes with FNV-1a (known vector) and hashes token arrays deterministically', () => {
    // FNV-1a 32-bit of "a" is 0xe40c292c.
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(hashTokens([1, 2, 3])).toBe(hashTokens([1, 2, 3]));
    expect(hashTokens([1, 2, 3])).not.toBe(hashTokens([3, 2, 1]));
  });

  it('renders chat with a shared prefix for a shared system prompt', () => {
    const sys = { role: 'system', content: 'You are terse.' };
    const p1 = renderChat([sys, { role: 'user', content: 'one' }]);
    const p2 = renderChat([sys, { role: 'user', content: 'two' }]);
    expect(p1.startsWith('<|im_start|>system\nYou are terse.<|im_end|>\n')).toBe(true);
    expect(p1.endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(p1).not.toBe(p2);
  });
});

describe('output text', () => {
  it('starts with the simulated-message sentence and is deterministic', () => {
    const out = new OutputText('lora-A', 42);
    const text = Array.from({ length: 30 }, (_, i) => out.pieceAt(i)).join('');
    expect(text.startsWith('This is simulated message from lora-A!')).toBe(true);
    const again = new OutputText('lora-A', 42);
    expect(Array.from({ length: 30 }, (_, i) => again.pieceAt(i)).join('')).toBe(text);
  });

  it.each([0, 1, 112, 113, 0xffffffff, 123456789])('natural length of seed %d is within bounds', (seed) => {
    const n = naturalLength(seed);
    expect(n).toBeGreaterThanOrEqual(NATURAL_MIN_TOKENS);
    expect(n).toBeLessThanOrEqual(NATURAL_MAX_TOKENS);
  });
});

describe('tokenize fast path', () => {
  /** Random ASCII text heavy in the characters the rule distinguishes. */
  function randomAscii(seed: number, n: number): string {
    const alphabet = 'ab_Z09 \t\n\r\v\f.,;<|>-!~';
    let a = seed >>> 0;
    let s = '';
    for (let i = 0; i < n; i++) {
      a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
      s += alphabet[a % alphabet.length];
    }
    return s;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('gives the regex path\'s ids on random ASCII text (seed %p)', (seed) => {
    const text = randomAscii(seed, 2000);
    expect(tokenize(text)).toEqual(splitPieces(text).map((p) => fnv1a32(p)));
  });

  it.each([
    ['words longer than 6', 'internationalization and abcdefghijkl'],
    ['trailing whitespace only', 'a \n\t '],
    ['leading whitespace', '   x'],
    ['only whitespace', ' \n '],
    ['non-ASCII falls back to the regex', 'café über 你好 a'],
  ])('%s', (_name, text) => {
    expect(tokenize(text)).toEqual(splitPieces(text).map((p) => fnv1a32(p)));
  });
});
