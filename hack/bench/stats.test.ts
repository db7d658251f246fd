import { percentile, summarize } from './stats';

const ten = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

describe('percentile (nearest rank)', () => {
  it.each([
    { name: 'p0 is the minimum', values: ten, p: 0, want: 1 },
    { name: 'p50 of 10 values is the 5th', values: ten, p: 50, want: 5 },
    { name: 'p90 of 10 values is the 9th', values: ten, p: 90, want: 9 },
    { name: 'p91 of 10 values rounds up to the 10th', values: ten, p: 91, want: 10 },
    { name: 'p100 is the maximum', values: ten, p: 100, want: 10 },
    { name: 'p99 of 100 values is the 99th despite float rounding', values: hundred, p: 99, want: 99 },
    { name: 'p99.9 of 100 values is the maximum', values: hundred, p: 99.9, want: 100 },
    { name: 'a single value is every percentile', values: [7], p: 99, want: 7 },
    { name: 'fractional latencies are returned as observed', values: [0.25, 0.5, 0.75], p: 50, want: 0.5 },
  ])('$name', ({ values, p, want }) => {
    expect(percentile(values, p)).toBe(want);
  });

  it('is NaN for no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it.each([-1, 101, NaN])('rejects p = %p', (p) => {
    expect(() => percentile(ten, p)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts a copy and reports every field', () => {
    const input = [5, 1, 4, 2, 3];
    expect(summarize(input)).toEqual({ count: 5, min: 1, mean: 3, p50: 3, p90: 5, p99: 5, p999: 5, max: 5 });
    expect(input).toEqual([5, 1, 4, 2, 3]);
  });

  it('is all NaN when empty', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.max).toBeNaN();
  });
});
