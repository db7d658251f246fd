import { SimClock } from './sim-clock';

describe('SimClock', () => {
  /** A clock on a hand-driven wall clock. */
  function clock(scale: number, maxLag = 50): { c: SimClock; wall: { t: number } } {
    // maxLag 50 (the default is 200) keeps the numbers below small.
    const wall = { t: 1000 };
    return { c: new SimClock(scale, () => wall.t, maxLag), wall };
  }

  it('maps wall time to simulated time by the scale while idle', () => {
    const { c, wall } = clock(10);
    wall.t += 5;
    expect(c.now()).toBe(50);
  });

  it('caps simulated time at the end of the running step', () => {
    const { c, wall } = clock(10);
    c.beginStep(0, 20);
    wall.t += 5; // 50 ms simulated, but the step ends at 20
    expect(c.now()).toBe(20);
  });

  it('lets the next step absorb a late timer instead of stretching simulated time', () => {
    const { c, wall } = clock(10);
    c.beginStep(0, 30); // 3 wall ms
    expect(c.wallDelayUntil(30)).toBeCloseTo(3, 9);
    wall.t += 4; // the timer fired 1 ms late
    c.endStep(30);
    c.beginStep(30, 30); // back to back: ends at simulated 60 = wall +6
    expect(c.wallDelayUntil(60)).toBeCloseTo(2, 9);
    expect(c.maxObservedLagWallMs).toBeCloseTo(1, 9);
    expect(c.resyncs).toBe(0);
    wall.t += 2;
    c.endStep(60);
    expect(c.now()).toBeCloseTo(60, 9); // 6 wall ms after the start: on schedule again
  });

  it('re-anchors when a step starts further behind than maxLagWallMs, and counts it', () => {
    const { c, wall } = clock(10, 50);
    c.beginStep(0, 10);
    wall.t += 100; // starved for 100 ms
    c.endStep(10);
    c.beginStep(10, 10);
    expect(c.resyncs).toBe(1);
    expect(c.lostWallMs).toBeCloseTo(99, 9);
    expect(c.wallDelayUntil(20)).toBeCloseTo(1, 9);
  });

  it('never moves time backwards when a timer fires early', () => {
    const { c, wall } = clock(10);
    c.beginStep(0, 30);
    wall.t += 2.9;
    c.endStep(30);
    expect(c.now()).toBe(30);
  });
});
