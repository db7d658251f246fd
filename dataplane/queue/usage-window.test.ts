import { FAIRNESS_DEFAULTS } from '../../shared/config/router-policy';
import { ManualClock } from './test-support';
import { UsageWindow } from './usage-window';

const WINDOW = 60_000;
const BUCKET = WINDOW / 12;

function make(weights: { inputTokenWeight?: number; outputTokenWeight?: number } = {}, maxUsers?: number) {
  const clock = new ManualClock();
  const usage = new UsageWindow({ ...FAIRNESS_DEFAULTS, windowMs: WINDOW, ...weights }, { now: clock.now, ...(maxUsers ? { maxUsers } : {}) });
  return { clock, usage };
}

describe('UsageWindow', () => {
  it.each([
    [1, 1, 100, 50, 150],
    [1, 4, 100, 50, 300],
    [0.5, 2, 100, 50, 150],
    [0, 1, 100, 50, 50],
  ])('input weight %d, output weight %d: %d in + %d out count %d', (inputTokenWeight, outputTokenWeight, input, output, expected) => {
    const { usage } = make({ inputTokenWeight, outputTokenWeight });
    usage.add('alice', input, output);
    expect(usage.usage('alice')).toBe(expected);
    expect(usage.usage('bob')).toBe(0);
  });

  it.each([
    // [charged at, read at, still counted]
    [0, WINDOW - 1, true],
    [0, WINDOW, false],
    [BUCKET - 1, WINDOW - 1, true],
    // Coarse slide: a charge late in a bucket leaves with that bucket, after windowMs − bucketMs + 1.
    [BUCKET - 1, WINDOW, false],
    [BUCKET, WINDOW, true],
  ])('a charge at %d ms read at %d ms counted: %s', (at, readAt, counted) => {
    const { clock, usage } = make();
    clock.advance(at);
    usage.add('alice', 10, 0);
    clock.advance(readAt - at);
    expect(usage.usage('alice')).toBe(counted ? 10 : 0);
  });

  it('sums only the buckets in the window as it slides', () => {
    const { clock, usage } = make();
    for (let i = 0; i < 24; i++) {
      usage.add('alice', 1, 0);
      clock.advance(BUCKET);
    }
    // 24 charges, one per bucket; the last 12 buckets (11 charged plus the empty current one) remain.
    expect(usage.usage('alice')).toBe(11);
    clock.advance(WINDOW * 10);
    usage.add('alice', 5, 0);
    expect(usage.usage('alice')).toBe(5);
  });

  it.each([
    // [case, charges as [tokens, ms after the previous], correction, usage after, usage once the first bucket left]
    ['within the newest bucket', [[100, 0]], -30, 70, 0],
    ['newest bucket first, then older ones', [[100, 0], [20, BUCKET]], -50, 70, 0],
    ['newest bucket first: the older one is untouched', [[100, 0], [80, BUCKET]], -50, 130, 30],
    ['floored at zero', [[100, 0]], -1000, 0, 0],
  ])('a negative correction applies %s', (_name, charges, correction, expected, afterFirstLeft) => {
    const { clock, usage } = make();
    for (const [tokens, after] of charges as [number, number][]) {
      clock.advance(after);
      usage.add('alice', tokens, 0);
    }
    usage.add('alice', correction, 0);
    expect(usage.usage('alice')).toBe(expected);
    clock.advance(WINDOW - (clock.now() % WINDOW)); // the bucket charged at 0 leaves the window
    expect(usage.usage('alice')).toBe(afterFirstLeft);
  });

  it('settle replaces the estimate with the real usage', () => {
    const { usage } = make({ outputTokenWeight: 2 });
    usage.add('alice', 500, 0); // charged at release
    usage.settle('alice', 500, 320, 40);
    expect(usage.usage('alice')).toBe(320 + 80);
    usage.add('bob', 500, 0);
    usage.settle('bob', 500, 0, 0); // failed request: estimate given back
    expect(usage.usage('bob')).toBe(0);
  });

  it('drops users whose usage left the window or went to zero', () => {
    const { clock, usage } = make();
    usage.add('alice', 1, 0);
    usage.add('bob', 1, 0);
    usage.add('carol', 1, 0);
    usage.add('carol', -1, 0);
    expect(usage.size).toBe(2);
    clock.advance(WINDOW);
    usage.add('dave', 1, 0); // a charge sweeps the users that left the window
    expect(usage.size).toBe(1);
    expect(usage.usage('dave')).toBe(1);
  });

  it('forgets the least recently charged user beyond maxUsers', () => {
    const { clock, usage } = make({}, 3);
    usage.add('a', 1, 0);
    usage.add('b', 1, 0);
    usage.add('c', 1, 0);
    clock.advance(BUCKET);
    usage.add('a', 1, 0); // a moves to the back
    usage.add('d', 1, 0); // evicts b
    expect(usage.size).toBe(3);
    expect([usage.usage('a'), usage.usage('b'), usage.usage('c'), usage.usage('d')]).toEqual([2, 0, 1, 1]);
  });

  it('keeps usage across identical settings and forgets it when weights or the window change', () => {
    const { usage } = make();
    usage.add('alice', 10, 0);
    usage.configure({ windowMs: WINDOW, inputTokenWeight: 1, outputTokenWeight: 1 });
    expect(usage.usage('alice')).toBe(10);
    usage.configure({ windowMs: WINDOW, inputTokenWeight: 2, outputTokenWeight: 1 });
    expect(usage.usage('alice')).toBe(0);
    usage.add('alice', 10, 0);
    expect(usage.usage('alice')).toBe(20);
    usage.configure({ windowMs: WINDOW * 2, inputTokenWeight: 2, outputTokenWeight: 1 });
    expect(usage.usage('alice')).toBe(0);
  });

  it.each([[NaN], [0]])('ignores a charge of %d', (tokens) => {
    const { usage } = make();
    usage.add('alice', tokens, 0);
    expect(usage.size).toBe(0);
  });
});
