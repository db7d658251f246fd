import { transformSync } from '@swc/core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loraSeed, tokenBlockHash, tokenBlockHashes, unmatchableLoraSeed } from './token-block-hash';

describe('tokenBlockHash', () => {
  const block = Array.from({ length: 16 }, (_, i) => 1000 + i);

  it('is deterministic and a non-negative integer below 2^53', () => {
    const h = tokenBlockHash(0, block, 0, 16);
    expect(tokenBlockHash(0, block, 0, 16)).toBe(h);
    expect(tokenBlockHash(0, Uint32Array.from(block), 0, 16)).toBe(h);
    expect(Number.isSafeInteger(h)).toBe(true);
    expect(h).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['different parent', () => tokenBlockHash(1, block, 0, 16)],
    ['parent differing only above bit 32', () => tokenBlockHash(2 ** 40, block, 0, 16)],
    ['one token changed', () => tokenBlockHash(0, [...block.slice(0, 15), 7], 0, 16)],
    ['tokens swapped', () => tokenBlockHash(0, [block[1], block[0], ...block.slice(2)], 0, 16)],
    ['shorter block', () => tokenBlockHash(0, block, 0, 15)],
    ['token id 2^32 - 1 vs -1 stays equal, 0 differs', () => tokenBlockHash(0, [...block.slice(0, 15), 0], 0, 16)],
  ])('changes with %s', (_what, other) => {
    expect(other()).not.toBe(tokenBlockHash(0, block, 0, 16));
  });

  it('reads only tokens[start..end)', () => {
    const padded = [9, 9, ...block, 9];
    expect(tokenBlockHash(5, padded, 2, 18)).toBe(tokenBlockHash(5, block, 0, 16));
  });

  it('has no collision among a million random 16-token blocks (expected ~5e-5)', () => {
    // xorshift32 token stream over a Qwen-sized vocabulary; run in a plain node process (see below).
    const out = inChild([
      'let x = 42; const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };',
      'const seen = new Set(); const t = new Uint32Array(16); let max = 0;',
      'for (let n = 0; n < 1000000; n++) {',
      '  for (let i = 0; i < 16; i++) t[i] = next() % 152064;',
      '  const h = tokenBlockHash(n % 7, t, 0, 16); if (h > max) max = h; seen.add(h);',
      '}',
      'process.stdout.write(JSON.stringify({ distinct: seen.size, max }));',
    ]);
    const { distinct, max } = JSON.parse(out) as { distinct: number; max: number };
    expect(distinct).toBe(1_000_000);
    // The high lane is used: the largest of a million hashes is near 2^53.
    expect(max).toBeGreaterThan(2 ** 52);
    expect(max).toBeLessThan(2 ** 53);
  });

  it('costs well under 1 µs for a 16-token block (measured in a plain node process)', () => {
    // Jest runs code in a vm context, where V8 does not inline Math.imul (~150 ns a call instead
    // of ~1 ns), so the timing is taken in a child process running the transpiled module.
    const ns = Number(
      inChild([
        'const t = Uint32Array.from({ length: 16 }, (_, i) => 1000 + i); let h = 0;',
        'for (let i = 0; i < 200000; i++) h = tokenBlockHash(h, t, 0, 16);',
        'const n = 2000000; const t0 = process.hrtime.bigint();',
        'for (let i = 0; i < n; i++) h = tokenBlockHash(h, t, 0, 16);',
        'process.stdout.write(String(Number(process.hrtime.bigint() - t0) / n));',
      ]),
    );
    expect(ns).toBeGreaterThan(0);
    expect(ns).toBeLessThan(1000);
  });
});

/**
 * Run `lines` in a child node process with `tokenBlockHash` in scope (the module transpiled by
 * swc) and return its stdout. Jest's vm context makes Math.imul ~100x slower than in production.
 */
function inChild(lines: string[]): string {
  const js = (file: string) => transformSync(readFileSync(file, 'utf8'), { filename: file, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }).code;
  const dir = mkdtempSync(join(tmpdir(), 'tbh-'));
  try {
    // The same relative layout as the sources, so the module's import of shared/util/hash resolves.
    mkdirSync(join(dir, 'dataplane', 'kv-events'), { recursive: true });
    mkdirSync(join(dir, 'shared', 'util'), { recursive: true });
    writeFileSync(join(dir, 'shared', 'util', 'hash.js'), js(join(__dirname, '..', '..', 'shared', 'util', 'hash.ts')));
    writeFileSync(join(dir, 'dataplane', 'kv-events', 'tbh.js'), js(join(__dirname, 'token-block-hash.ts')));
    const bench = [`const { tokenBlockHash } = require(${JSON.stringify(join(dir, 'dataplane', 'kv-events', 'tbh.js'))});`, ...lines].join('\n');
    return execFileSync(process.execPath, ['-e', bench], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tokenBlockHashes', () => {
  const tokens = Array.from({ length: 50 }, (_, i) => i * 31);

  it('hashes whole blocks only, chained from the seed', () => {
    const hs = tokenBlockHashes(tokens, 16, 0, 100);
    expect(hs).toHaveLength(3);
    expect(hs[0]).toBe(tokenBlockHash(0, tokens, 0, 16));
    expect(hs[1]).toBe(tokenBlockHash(hs[0], tokens, 16, 32));
    expect(hs[2]).toBe(tokenBlockHash(hs[1], tokens, 32, 48));
  });

  it('stops at maxBlocks', () => {
    expect(Array.from(tokenBlockHashes(tokens, 16, 0, 2))).toEqual(Array.from(tokenBlockHashes(tokens, 16, 0, 100)).slice(0, 2));
    expect(tokenBlockHashes(tokens, 16, 0, 0)).toHaveLength(0);
  });

  it('gives the same block different hashes after different prefixes (chaining)', () => {
    const a = [...tokens.slice(0, 16), ...tokens.slice(16, 32)];
    const b = [...tokens.slice(32, 48), ...tokens.slice(16, 32)];
    expect(tokenBlockHashes(a, 16, 0, 2)[1]).not.toBe(tokenBlockHashes(b, 16, 0, 2)[1]);
  });

  it('separates adapters: same tokens under different seeds never share a hash', () => {
    const base = tokenBlockHashes(tokens, 16, loraSeed(null), 3);
    const sql = tokenBlockHashes(tokens, 16, loraSeed('sql'), 3);
    const chat = tokenBlockHashes(tokens, 16, loraSeed('chat'), 3);
    const all = new Set([...base, ...sql, ...chat]);
    expect(all.size).toBe(9);
  });

  it('rejects a non-positive block size', () => {
    expect(() => tokenBlockHashes(tokens, 0, 0, 4)).toThrow(/blockSize/);
  });
});

describe('seeds', () => {
  it.each([
    ['base model', loraSeed(null), 0],
    ['adapter is stable', loraSeed('sql'), loraSeed('sql')],
  ])('%s', (_what, got, want) => {
    expect(got).toBe(want);
  });

  it('gives adapters distinct non-zero 53-bit seeds, apart from numeric-id seeds', () => {
    const seeds = [loraSeed('a'), loraSeed('b'), loraSeed('sql-lora'), unmatchableLoraSeed(1), unmatchableLoraSeed(2)];
    expect(new Set(seeds).size).toBe(seeds.length);
    for (const s of seeds) {
      expect(s).toBeGreaterThan(0);
      expect(Number.isSafeInteger(s)).toBe(true);
    }
  });
});
