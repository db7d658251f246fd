/**
 * The load-time exactness check of the fast encoder (byte-level-bpe.ts) against the library:
 * HfTokenizer encodes these texts both ways and keeps the library if any id differs. The texts
 * are the varied sample texts plus the edge cases where a reimplementation is most likely to
 * drift: case-folded contractions, NFC composition, Unicode whitespace the regex engines disagree
 * on, lone surrogates, long runs (heap merging), digits of other scripts, and every added token
 * next to text. About 19k characters: ~80 ms through the library at load.
 */
import { sampleText } from './sample-text';

/** Edge cases beyond sample-text.ts, each a short text. */
export const EDGE_TEXTS: readonly string[] = [
  "DON'T it'S we'LL I'D they'Re you'VE I'M 'ſx 'Sx's'S", "'s'''t 'll'd'x",
  'cafe\u0301 café e\u0301\u0301 \u212b \u1100\u1161\u11a8 \u0340 ﬁ \u0958 q\u0307\u0323',
  ' \u0085 \ufeff\u00a0\u3000\u2028x \u200b\u180e', '\r\n\r\n  \t\n \n\n  x\n', 'trailing   ', '   ', '\n',
  '1234567890 ١٢٣ ①² ½ 4\u20e3', '👨‍👩‍👧 🇯🇵 👍🏽 ❤️ 🏳️‍🌈', '\ud800x\udc00 \ud83d', '\u0000\u0001\u007f\u0080\u00ad',
  'Привет мир Γειά σου नमस्ते مرحبا שלום ไทย', 'a'.repeat(2000), ' '.repeat(300) + 'x', '!'.repeat(200),
  '\n'.repeat(50) + 'a', 'ab'.repeat(700), '<|im_start|', '<|im_start|><|im_end|>x<|endoftext|>y', '<think></think>',
];

/**
 * Texts for the check: sample texts, the edge cases, and `added` (the tokenizer's added-token
 * contents) glued to letters, spaces and newlines on both sides.
 */
export function selfCheckTexts(added: readonly string[]): string[] {
  const glued = added.map((a, i) => (i % 3 === 0 ? `x${a}y` : i % 3 === 1 ? ` ${a} ` : `\n${a}\n`)).join('');
  return [sampleText(1, 6000), sampleText(2, 6000), sampleText(3, 2000, 'prose'), ...EDGE_TEXTS, glued, ''];
}

/**
 * The first text on which `fast` and `reference` give different ids, described for a stats
 * reason (index, and the first differing position), or null when all agree.
 */
export function firstDifference(
  texts: readonly string[],
  fast: (text: string) => ArrayLike<number>,
  reference: (text: string) => ArrayLike<number>,
): string | null {
  for (let i = 0; i < texts.length; i++) {
    const a = fast(texts[i]!);
    const b = reference(texts[i]!);
    const len = Math.max(a.length, b.length);
    for (let k = 0; k < len; k++) {
      if (a[k] !== b[k]) {
        const what = JSON.stringify(texts[i]!.slice(0, 40));
        return `check text ${i} (${what}…): id ${k} is ${String(a[k])}, the library has ${String(b[k])}`;
      }
    }
  }
  return null;
}
