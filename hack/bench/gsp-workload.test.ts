import { tokenize } from '../engine-sim/tokenizer';
import { loadHfTokenizer, type HfTokenizer } from '../../shared/tokenizer/hf-tokenizer';
import { generateWorkload, poissonArrivals, promptOf, randomWords, mulberry32, WORKLOADS, type GspSpec, type Vocabulary } from './gsp-workload';
import { checkPromptTokens, vocabularyFrom } from './gsp-vocabulary';
import { defaultTokenizerDir } from './sched-kv-events';

const small = (over: Partial<GspSpec> = {}): GspSpec => ({ ...WORKLOADS.long, groups: 6, perGroup: 5, systemTokens: 300, ...over });

describe('generated-shared-prefix workload', () => {
  it.each([
    { name: 'long (seed: 4096-token system prompt)', spec: { ...WORKLOADS.long, groups: 3, perGroup: 2 } },
    { name: 'short (seed: 256-token system prompt)', spec: { ...WORKLOADS.short, groups: 3, perGroup: 2 } },
    { name: 'odd sizes', spec: small({ systemTokens: 777, questionTokens: 33 }) },
  ])('$name: every prompt is exactly system + question tokens for the simulator', ({ spec }) => {
    const w = generateWorkload(spec);
    for (const r of w.requests) {
      expect(tokenize(w.systemPrompts[r.group]!)).toHaveLength(spec.systemTokens);
      expect(tokenize(r.question)).toHaveLength(spec.questionTokens);
      expect(tokenize(promptOf(w, r))).toHaveLength(spec.systemTokens + spec.questionTokens);
    }
  });

  it.each([
    { groups: 1, perGroup: 1 },
    { groups: 6, perGroup: 5 },
    { groups: 256, perGroup: 32 },
  ])('$groups groups × $perGroup: each group has its requests, numbered once each', ({ groups, perGroup }) => {
    const w = generateWorkload(small({ groups, perGroup, systemTokens: 8, questionTokens: 4 }));
    expect(w.requests).toHaveLength(groups * perGroup);
    expect(w.systemPrompts).toHaveLength(groups);
    for (let g = 0; g < groups; g++) {
      const idx = w.requests.filter((r) => r.group === g).map((r) => r.index).sort((a, b) => a - b);
      expect(idx).toEqual(Array.from({ length: perGroup }, (_, i) => i));
    }
  });

  it('shares the system prompt within a group and nothing across groups', () => {
    const w = generateWorkload(small());
    const byGroup = (g: number) => w.requests.filter((r) => r.group === g).map((r) => promptOf(w, r));
    const [a, b] = byGroup(0);
    const sys = w.systemPrompts[0]!;
    expect(a!.startsWith(sys) && b!.startsWith(sys)).toBe(true);
    expect(a).not.toBe(b);
    // Different groups differ from the first word on (random letters; a clash is astronomically unlikely).
    const firstWords = w.systemPrompts.map((s) => s.split(' ')[1]! + s.split(' ')[2]!);
    expect(new Set(firstWords).size).toBe(w.systemPrompts.length);
  });

  it.each([1, 2, 12345])('seed %p: the same spec gives the same requests in the same order', (seed) => {
    const a = generateWorkload(small({ seed }));
    const b = generateWorkload(small({ seed }));
    expect(b).toEqual(a);
    const c = generateWorkload(small({ seed: seed + 1 }));
    expect(c.systemPrompts[0]).not.toBe(a.systemPrompts[0]);
  });

  it('interleaves the groups (shuffled, not group by group)', () => {
    const w = generateWorkload(small({ groups: 16, perGroup: 8, systemTokens: 4, questionTokens: 2 }));
    const groups = w.requests.map((r) => r.group);
    let changes = 0;
    for (let i = 1; i < groups.length; i++) if (groups[i] !== groups[i - 1]) changes++;
    // Sorted order would change group 15 times; a shuffle of 128 changes most of the time.
    expect(changes).toBeGreaterThan(80);
    expect(new Set(groups.slice(0, 8)).size).toBeGreaterThan(1);
  });

  it.each([
    { tokens: 1 },
    { tokens: 100 },
    { tokens: 4096 },
  ])('randomWords($tokens) is that many tokens at ~4.5 characters each', ({ tokens }) => {
    const text = randomWords(tokens, mulberry32(3));
    expect(tokenize(text)).toHaveLength(tokens);
    if (tokens >= 100) expect(text.length / tokens).toBeGreaterThan(4);
    if (tokens >= 100) expect(text.length / tokens).toBeLessThan(5);
  });

  it.each([
    { separatorTokens: 0, questionWords: 3 },
    { separatorTokens: 1, questionWords: 2 },
  ])('with a vocabulary whose separator is $separatorTokens token(s): words from it, $questionWords-word questions', ({ separatorTokens, questionWords }) => {
    const vocabulary = { words: ['alpha', 'beta', 'gamma', 'delta'], separatorTokens };
    const w = generateWorkload(small({ systemTokens: 50, questionTokens: 3 }), vocabulary);
    const words = (text: string): string[] => text.split(' ').slice(1);
    for (const p of w.systemPrompts) {
      expect(words(p)).toHaveLength(50);
      expect(words(p).every((x) => vocabulary.words.includes(x))).toBe(true);
    }
    for (const r of w.requests) expect(words(r.question)).toHaveLength(questionWords);
    // Stand-in tokens: one per word, "\n\n" folded into the next one.
    expect(tokenize(promptOf(w, w.requests[0]!))).toHaveLength(50 + questionWords);
    expect(generateWorkload(small({ systemTokens: 50, questionTokens: 3 }), vocabulary)).toEqual(w);
  });

  it.each([
    { name: 'one word', vocabulary: { words: ['a'], separatorTokens: 0 }, error: /at least 2 words/ },
    { name: 'a word with a space', vocabulary: { words: ['a b', 'c'], separatorTokens: 0 }, error: /without spaces/ },
    { name: 'a separator as long as the question', vocabulary: { words: ['a', 'b'], separatorTokens: 128 }, error: /separatorTokens/ },
  ])('rejects a vocabulary with $name', ({ vocabulary, error }) => {
    expect(() => generateWorkload(small(), vocabulary)).toThrow(error);
  });

  it.each([
    { name: 'zero groups', over: { groups: 0 } },
    { name: 'fractional per-group', over: { perGroup: 1.5 } },
    { name: 'no output', over: { outputTokens: 0 } },
  ])('rejects $name', ({ over }) => {
    expect(() => generateWorkload(small(over))).toThrow(/must be a positive whole number/);
  });
});

describe('generated-shared-prefix workload under the Qwen3 tokenizer', () => {
  let tok: HfTokenizer;
  let vocabulary: Vocabulary;
  beforeAll(async () => {
    tok = await loadHfTokenizer(defaultTokenizerDir());
    vocabulary = vocabularyFrom(tok, 512);
  });
  const ids = (text: string): number[] => Array.from(tok.encode(text, true));

  it('"\\n\\n" between words is a token of its own; the words are one token under both tokenizers', () => {
    expect(vocabulary.separatorTokens).toBe(1);
    expect(new Set(vocabulary.words).size).toBe(vocabulary.words.length);
    for (const w of vocabulary.words) {
      expect([w, tok.encode(` ${w}`, false).length]).toEqual([w, 1]);
      expect([w, tokenize(` ${w}`).length]).toEqual([w, 1]);
    }
  });

  it.each([
    { name: 'long (seed: 4096-token system prompt)', spec: { ...WORKLOADS.long, groups: 3, perGroup: 3 } },
    { name: 'short (seed: 256-token system prompt)', spec: { ...WORKLOADS.short, groups: 3, perGroup: 3 } },
  ])('$name: every prompt is exactly system + question tokens and starts with its group\'s system prompt', ({ spec }) => {
    const w = generateWorkload(spec, vocabulary);
    expect(() => checkPromptTokens(tok, w)).not.toThrow();
    for (const r of w.requests) {
      const p = ids(promptOf(w, r));
      expect(p).toHaveLength(spec.systemTokens + spec.questionTokens);
      expect(p.slice(0, spec.systemTokens)).toEqual(ids(w.systemPrompts[r.group]!));
    }
    // Requests of one group share their system prompt's tokens and then differ within the next block.
    const [a, b] = w.requests.filter((r) => r.group === 0).map((r) => ids(promptOf(w, r)));
    const firstDiff = a!.findIndex((t, k) => b![k] !== t);
    expect(firstDiff).toBeGreaterThanOrEqual(spec.systemTokens);
    expect(firstDiff).toBeLessThan(spec.systemTokens + 128);
    // Different groups differ within the first 128-token block.
    const firsts = w.systemPrompts.map((p) => ids(p).slice(0, 128).join(','));
    expect(new Set(firsts).size).toBe(w.systemPrompts.length);
  });

  it('checkPromptTokens catches a workload one token off', () => {
    const w = generateWorkload({ ...WORKLOADS.short, groups: 2, perGroup: 2 }, { ...vocabulary, separatorTokens: 0 });
    expect(() => checkPromptTokens(tok, w)).toThrow(/prompt is 385 tokens, expected 384/);
  });
});

describe('poissonArrivals', () => {
  it.each([
    { n: 8192, rate: 800 },
    { n: 5000, rate: 10 },
  ])('$n arrivals at $rate/s: start at 0, increase, and average 1/rate apart', ({ n, rate }) => {
    const t = poissonArrivals(n, rate, 1);
    expect(t[0]).toBe(0);
    for (let i = 1; i < n; i++) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
    const meanGap = t[n - 1]! / (n - 1);
    expect(meanGap).toBeGreaterThan(0.95 / rate);
    expect(meanGap).toBeLessThan(1.05 / rate);
    expect(poissonArrivals(n, rate, 1)).toEqual(t);
  });
});
