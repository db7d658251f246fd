import { BpeMerges } from './bpe-merges';
import { mulberry32 } from '../util/random';

/** A toy vocabulary: the letters, then every string a merge makes. */
function toy(merges: [string, string][]): { vocab: Map<string, number>; merges: BpeMerges } {
  const vocab = new Map<string, number>();
  for (const c of 'abcd') vocab.set(c, vocab.size);
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  const m = BpeMerges.build(merges, vocab);
  if (typeof m === 'string') throw new Error(m);
  return { vocab, merges: m };
}

/** Reference: rescan for the lowest-rank pair (leftmost on ties), merge it, repeat. */
function naive(word: string, merges: [string, string][]): string[] {
  const rank = new Map<string, number>();
  merges.forEach(([a, b], r) => rank.set(`${a}\u0000${b}`, r));
  const syms = [...word];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(`${syms[i]}\u0000${syms[i + 1]}`);
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best < 0) return syms;
    syms.splice(best, 2, syms[best]! + syms[best + 1]!);
  }
}

function run(t: ReturnType<typeof toy>, word: string): string[] {
  const byId = [...t.vocab.keys()];
  const ids = Int32Array.from([...word].map((c) => t.vocab.get(c)!));
  const k = t.merges.merge(ids, ids.length);
  return Array.from(ids.subarray(0, k), (id) => byId[id]!);
}

describe('BpeMerges.merge', () => {
  it.each<[string, [string, string][], string, string[]]>([
    ['leftmost first on equal ranks', [['a', 'a']], 'aaa', ['aa', 'a']],
    ['lower rank first', [['b', 'c'], ['a', 'b']], 'abc', ['a', 'bc']],
    ['merges of merges', [['a', 'b'], ['ab', 'ab'], ['abab', 'c']], 'ababc', ['ababc']],
    ['no merge applies', [['c', 'd']], 'abab', ['a', 'b', 'a', 'b']],
    ['a single symbol', [['a', 'b']], 'a', ['a']],
  ])('%s', (_name, merges, word, expected) => {
    expect(run(toy(merges), word)).toEqual(expected);
  });

  it('equals the rescanning reference on random merge tables and words (long words included)', () => {
    const rnd = mulberry32(17);
    for (let table = 0; table < 30; table++) {
      // Random merges over strings built so far, so later merges use earlier results.
      const pool = ['a', 'b', 'c', 'd'];
      const merges: [string, string][] = [];
      for (let i = 0; i < 25; i++) {
        const a = pool[Math.floor(rnd() * pool.length)]!;
        const b = pool[Math.floor(rnd() * pool.length)]!;
        if (merges.some(([x, y]) => x === a && y === b)) continue;
        merges.push([a, b]);
        pool.push(a + b);
      }
      const t = toy(merges);
      for (let w = 0; w < 40; w++) {
        const len = w === 0 ? 3000 : 1 + Math.floor(rnd() * 40);
        let word = '';
        for (let i = 0; i < len; i++) word += 'abcd'[Math.floor(rnd() * 4)];
        expect(run(t, word)).toEqual(naive(word, merges));
      }
    }
  });

  it('reads "a b" strings and [a, b] pairs alike; a later duplicate takes the later rank', () => {
    const vocab = new Map([['a', 0], ['b', 1], ['c', 2], ['ab', 3], ['bc', 4]]);
    const pairs = BpeMerges.build([['a', 'b'], ['b', 'c'], ['a', 'b']], vocab) as BpeMerges;
    const strings = BpeMerges.build(['a b', 'b c', 'a b'], vocab) as BpeMerges;
    for (const m of [pairs, strings]) {
      const ids = Int32Array.from([0, 1, 2]); // a b c: "b c" (rank 1) now beats "a b" (rank 2)
      expect(Array.from(ids.subarray(0, m.merge(ids, 3)))).toEqual([0, 4]);
      expect(m.size).toBe(2);
    }
  });

  it.each([
    ['not a list', {}, /not a list/],
    ['three tokens', ['a b c'], /is not two tokens/],
    ['a non-string', [['a', 1]], /non-string/],
    ['an unknown result', [['b', 'a']], /outside the vocabulary/],
  ])('refuses %s', (_name, merges, reason) => {
    expect(BpeMerges.build(merges, new Map([['a', 0], ['b', 1]]))).toMatch(reason);
  });
});
