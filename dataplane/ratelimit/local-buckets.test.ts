import type { LimitSpec } from './limit-spec';
import { LocalBuckets } from './local-buckets';
import { ALLOWED, INPUT_SHORT, NEVER_FITS, OUTPUT_SHORT, admit, refill, resetMs } from './token-bucket';

/** 60 tokens per minute = 1 token per second, for both buckets unless a test says otherwise. */
const PER_MINUTE: LimitSpec = { inputPerUnit: 60, outputPerUnit: 60, unitMs: 60_000 };

function buckets(maxKeys?: number) {
  const clock = { t: 1_000_000 };
  return { clock, b: new LocalBuckets(() => clock.t, maxKeys) };
}

describe('token bucket arithmetic', () => {
  it.each([
    // tokens, ts, cap, unitMs, now, expected
    [0, 0, 60, 60_000, 30_000, 30],
    [10, 0, 60, 60_000, 1_000, 11],
    [50, 0, 60, 60_000, 60_000, 60],
    [-120, 0, 60, 60_000, 60_000, -60],
    [5, 1_000, 60, 60_000, 0, 5],
    [0, 0, 10_000, 1_000, 1, 10],
  ])('refill(%d tokens at %d, cap %d per %dms) at %d = %d', (tokens, ts, cap, unitMs, now, expected) => {
    expect(refill(tokens, ts, cap, unitMs, now)).toBeCloseTo(expected, 9);
  });

  it.each([
    // in, out, estimate, verdict, waitMs
    [60, 60, 60, ALLOWED, 0],
    [5, 60, 5, ALLOWED, 0],
    [2, 60, 5, INPUT_SHORT, 3_000],
    [60, 0, 5, OUTPUT_SHORT, 1],
    [60, 0.5, 5, ALLOWED, 0],
    [60, -10, 5, OUTPUT_SHORT, 10_001],
    [2, -1, 5, INPUT_SHORT, 3_000],
    [2, -10, 5, OUTPUT_SHORT, 10_001],
    [60, 60, 61, NEVER_FITS, 0],
    [-5, 60, 0, INPUT_SHORT, 5_000],
  ])('admit(in %d, out %d, estimate %d) → verdict %d after %dms', (inT, outT, estimate, verdict, waitMs) => {
    const a = admit(inT, outT, PER_MINUTE, estimate);
    expect([a.verdict, a.waitMs]).toEqual([verdict, waitMs]);
  });

  it.each([
    [60, 0],
    [59.5, 500],
    [0, 60_000],
    [-60, 120_000],
  ])('a bucket at %d tokens is full again in %dms', (tokens, ms) => {
    expect(resetMs(tokens, 60, 60_000)).toBe(ms);
  });
});

describe('LocalBuckets', () => {
  it('starts full, takes the estimate, and refills continuously', () => {
    const { clock, b } = buckets();
    expect(b.check('k', PER_MINUTE, 50)).toMatchObject({ verdict: ALLOWED, inTokens: 10, outTokens: 60 });
    expect(b.check('k', PER_MINUTE, 20)).toMatchObject({ verdict: INPUT_SHORT, waitMs: 10_000, inTokens: 10 });
    clock.t += 9_999;
    expect(b.check('k', PER_MINUTE, 20).verdict).toBe(INPUT_SHORT);
    clock.t += 1;
    const d = b.check('k', PER_MINUTE, 20);
    expect(d.verdict).toBe(ALLOWED);
    expect(d.inTokens).toBeCloseTo(0, 9); // incremental refills carry float rounding (~1e-15)
    clock.t += 10 * 60_000;
    expect(b.check('k', PER_MINUTE, 0).inTokens).toBe(60);
  });

  it('refuses a request larger than the capacity without taking anything', () => {
    const { b } = buckets();
    expect(b.check('k', PER_MINUTE, 61)).toMatchObject({ verdict: NEVER_FITS, waitMs: 0, inTokens: 60 });
    expect(b.check('k', PER_MINUTE, 60).verdict).toBe(ALLOWED);
  });

  it('lets an output charge overdraw, then admits again once refilled above zero', () => {
    const { clock, b } = buckets();
    expect(b.check('k', PER_MINUTE, 1).verdict).toBe(ALLOWED);
    b.charge('k', PER_MINUTE, 0, 150);
    const refused = b.check('k', PER_MINUTE, 1);
    expect(refused).toMatchObject({ verdict: OUTPUT_SHORT, outTokens: -90, waitMs: 90_001 });
    clock.t += 90_000;
    expect(b.check('k', PER_MINUTE, 1)).toMatchObject({ verdict: OUTPUT_SHORT, waitMs: 1 });
    clock.t += 1;
    expect(b.check('k', PER_MINUTE, 1).verdict).toBe(ALLOWED);
  });

  it('applies a negative input correction as a refund, never above the capacity', () => {
    const { b } = buckets();
    b.check('k', PER_MINUTE, 40);
    b.charge('k', PER_MINUTE, -30, 0);
    expect(b.check('k', PER_MINUTE, 0).inTokens).toBe(50);
    b.charge('k', PER_MINUTE, -1_000, 0);
    expect(b.check('k', PER_MINUTE, 0).inTokens).toBe(60);
  });

  it('keeps no bucket for a null limit', () => {
    const { b } = buckets();
    const outputOnly: LimitSpec = { inputPerUnit: null, outputPerUnit: 10, unitMs: 1_000 };
    expect(b.check('k', outputOnly, 1_000_000)).toMatchObject({ verdict: ALLOWED, inTokens: null, outTokens: 10 });
  });

  it('clamps a bucket to a lowered limit from a new snapshot', () => {
    const { b } = buckets();
    b.check('k', PER_MINUTE, 10);
    const lower: LimitSpec = { ...PER_MINUTE, inputPerUnit: 20 };
    expect(b.check('k', lower, 0).inTokens).toBe(20);
  });

  it('holds at most maxKeys keys, forgetting the least recently used', () => {
    const { b } = buckets(3);
    for (const k of ['a', 'b', 'c']) b.check(k, PER_MINUTE, 60);
    b.check('a', PER_MINUTE, 0); // a is now the most recently used; b the least
    b.check('d', PER_MINUTE, 60);
    expect(b.size).toBe(3);
    expect(b.check('a', PER_MINUTE, 1).verdict).toBe(INPUT_SHORT); // kept, still empty
    expect(b.check('b', PER_MINUTE, 60).verdict).toBe(ALLOWED); // forgotten: starts full
  });

  it('drops least recently used buckets that have refilled to full', () => {
    const { clock, b } = buckets();
    for (let i = 0; i < 10; i++) b.check(`k${i}`, PER_MINUTE, 1);
    expect(b.size).toBe(10);
    clock.t += 2_000; // 1 token refilled: every bucket is full again
    for (let i = 0; i < 4; i++) b.check(`new${i}`, PER_MINUTE, 1);
    // Each insert drops up to two full ones: 10 + 4 − 8.
    expect(b.size).toBe(6);
  });
});
