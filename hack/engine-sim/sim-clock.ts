import { performance } from 'node:perf_hooks';

/**
 * Simulated time for one engine, in milliseconds.
 *
 * Simulated time is locked to the wall clock: sim = anchorSim + (wall - anchorWall) x timeScale.
 * While a scheduler step runs, simulated time is capped at the step's computed end, so
 * back-to-back steps chain exactly (next start = previous end) and latencies the simulator
 * reports are the ones its cost model computed.
 *
 * A step's timer is aimed at the wall time its end maps to (`wallDelayUntil`), not at "now +
 * duration": Node fires timers up to ~1 ms late (ms-granular loop time), and re-anchoring on every
 * step would add that lateness to every step, so at a large timeScale (steps of a few wall ms)
 * the engine would run 20-40% slower in wall time than its cost model says. Keeping the anchor
 * lets the next step absorb the lateness of the previous one (drift compensation). Only when the
 * engine falls more than `maxLagWallMs` behind (a starved event loop) does the clock re-anchor,
 * giving up the lost time; `resyncs` and `lostWallMs` count that, `maxLagWallMs` seen in
 * `maxObservedLagWallMs`, so a benchmark can tell whether the time scale held.
 */
export class SimClock {
  private anchorSim = 0;
  private anchorWall: number;
  private ceiling: number | null = null;
  /** Steps begun. */
  steps = 0;
  /** Times the clock gave up catching up and re-anchored to the wall clock. */
  resyncs = 0;
  /** Wall ms given up by those re-anchorings. */
  lostWallMs = 0;
  /** Largest lateness (wall ms) of a step start behind its mapped wall time. */
  maxObservedLagWallMs = 0;
  /** Sum of step-start lateness (wall ms), for a mean. */
  totalLagWallMs = 0;

  /**
   * `timeScale` > 1 runs faster than real time; `wallNow` is injectable for tests;
   * `maxLagWallMs` is how far behind the wall clock a step may start before the clock re-anchors.
   */
  constructor(
    readonly timeScale: number,
    private readonly wallNow: () => number = () => performance.now(),
    readonly maxLagWallMs = 200,
  ) {
    if (!(timeScale > 0)) throw new Error('timeScale must be > 0');
    this.anchorWall = wallNow();
  }

  /** Current simulated time (ms since the engine started). */
  now(): number {
    const t = this.anchorSim + (this.wallNow() - this.anchorWall) * this.timeScale;
    return this.ceiling === null ? t : Math.min(t, this.ceiling);
  }

  /** Wall time (ms, on the injected clock) that simulated time `simMs` maps to. */
  wallAt(simMs: number): number {
    return this.anchorWall + (simMs - this.anchorSim) / this.timeScale;
  }

  /** Enter a step that starts at `startSim` and lasts `durationSim`. */
  beginStep(startSim: number, durationSim: number): void {
    const wall = this.wallNow();
    const lag = wall - this.wallAt(startSim);
    this.steps++;
    if (lag > 0) {
      this.totalLagWallMs += lag;
      if (lag > this.maxObservedLagWallMs) this.maxObservedLagWallMs = lag;
    }
    if (lag > this.maxLagWallMs) {
      // Too far behind to catch up without a burst: start the step now and lose the lag.
      this.resyncs++;
      this.lostWallMs += lag;
      this.anchorSim = startSim;
      this.anchorWall = wall;
    }
    this.ceiling = startSim + durationSim;
  }

  /** Leave the step; simulated time goes on from the wall-clock mapping (at least `endSim`). */
  endStep(endSim: number): void {
    this.ceiling = null;
    // A timer that fired early (it never should) must not move time backwards past endSim.
    if (this.now() < endSim) {
      this.anchorSim = endSim;
      this.anchorWall = this.wallNow();
    }
  }

  /** Wall-clock milliseconds from now until simulated time `simMs` (0 if already past). */
  wallDelayUntil(simMs: number): number {
    return Math.max(0, this.wallAt(simMs) - this.wallNow());
  }

  /** Wall-clock milliseconds that `simMs` simulated milliseconds take. */
  toWallMs(simMs: number): number {
    return simMs / this.timeScale;
  }
}
