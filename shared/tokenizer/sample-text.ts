/**
 * Seeded, varied text for tokenizer self-checks, tests and benchmarks: English prose, code, CJK,
 * emoji, digits, whitespace runs, contractions, accented and combining characters (NFC matters)
 * and chat special tokens. Built from fixed word lists, so nothing is downloaded and the same
 * seed always gives the same text.
 */
import { mulberry32 } from '../util/random';

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no will more out up into do any your what ' +
  'time can only other new some could these two may first then its also after our well even because through ' +
  'request router cache token prefix model server latency kubernetes cluster engine block scheduler endpoint ' +
  'inference gateway throughput pod queue replica traffic weight adapter prompt response stream deadline'
).split(' ');

const CODE = [
  'function add(a, b) {\n  return a + b;\n}\n',
  'for (let i = 0; i < n; i++) {\n    sum += xs[i] * 2;\n}\n',
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n-1) + fib(n-2)\n',
  'SELECT id, name FROM users WHERE age >= 21 ORDER BY name;\n',
  '{"model": "qwen3", "max_tokens": 128, "stream": true}\n',
  '\tif err != nil {\n\t\treturn nil, err\n\t}\n',
];

const CJK = ['你好，世界。', '今天天气很好，我们去公园散步吧！', '東京は日本の首都です。', '안녕하세요 여러분', '機械学習モデル'];
const EMOJI = ['🎉', '🚀🚀', '👍🏽', '❤️', '🇯🇵', '👨‍👩‍👧'];
const ODD = [
  "don't", "it's", "WE'LL", "they're", "I'd", 'café', 'cafe\u0301', 'naïve', 'Ångström', 'ﬁle', 'x\u00a0y', 'über-fast',
  '   ', '\n\n\n', ' \t ', '\r\n', '  \n  ', '...', '!!!', '—', '$1,234.56', '3.14159', '2024-06-01T12:00:00Z', '0x7fff',
];
const SPECIAL = ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '</think>', '<tool_call>'];

/**
 * Text of about `chars` UTF-16 units (it may overshoot by one segment). `mix` 'prose' keeps to
 * plain English words and punctuation (what long system prompts mostly are); 'varied' mixes in
 * every kind of text listed in the file header, special tokens included.
 */
export function sampleText(seed: number, chars: number, mix: 'prose' | 'varied' = 'varied'): string {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const parts: string[] = [];
  let n = 0;
  let sentenceStart = true;
  // Bounded: every iteration adds at least one character.
  while (n < chars) {
    let piece: string;
    const r = rnd();
    if (mix === 'prose' || r < 0.7) {
      const w = pick(WORDS);
      piece = (parts.length ? ' ' : '') + (sentenceStart ? w[0]!.toUpperCase() + w.slice(1) : w);
      sentenceStart = false;
      const end = rnd();
      if (end < 0.07) { piece += '.'; sentenceStart = true; }
      else if (end < 0.1) piece += ',';
      else if (end < 0.105) { piece += '.\n\n'; sentenceStart = true; }
    } else if (r < 0.76) piece = '\n' + pick(CODE);
    else if (r < 0.82) piece = pick(CJK);
    else if (r < 0.86) piece = pick(EMOJI);
    else if (r < 0.94) piece = (rnd() < 0.5 ? ' ' : '') + pick(ODD);
    else if (r < 0.97) piece = String(Math.floor(rnd() * 1e7));
    else piece = pick(SPECIAL);
    parts.push(piece);
    n += piece.length;
  }
  return parts.join('');
}
