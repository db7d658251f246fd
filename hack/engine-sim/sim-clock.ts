import { performance } from 'node:perf_hooks';

/**
 * Simulated time for one engine, in milliseconds.
 *
 * While a scheduler step runs, simulated time is pinned to the step's computed
 * interval [start, start + duration]; back-to-back steps chain exactly
 * (next start = previous end) whatever the real timer jitter, so latencies the
 * simulator reports are the ones its cost model computed. While the engine is
 * idle, simulated time advances with the wall clock x timeScale from the end of
 * the last step, so arrivals and idle gaps still get sensible timestamps.
 */
export class SimClock {
  private anchorSim = 0;
  private anchorWall: number;
  private ceiling: number | null = null;

  /** `timeScale` > 1 runs faster than real time; `wallNow` is injectable for tests. */
  constructor(
    readonly timeScale: number,
    private readonly wallNow: () => number = () => performance.now(),
  ) {
    if (!(timeScale > 0)) throw new Error('timeScale must be > 0');
    this.anchorWall = wallNow();
  }

  /** Current simulated time (ms since the engine started). */
  now(): number {
    const t = this.anchorSim + (this.wallNow() - this.anchorWall) * this.timeScale;
    return this.ceiling === null ? t : Math.min(t, this.ceiling);
  }

  /** Enter a step that starts at `startSim` and lasts `durationSim`. */
  beginStep(startSim: number, durationSim: number): void {
    this.anchorSim = startSim;
    this.anchorWall = this.wallNow();
    this.ceiling = startSim + durationSim;
  }

  /** Leave the step; simulated time resumes from `endSim`. */
  endStep(endSim: number): void {
    this.anchorSim = endSim;
    this.anchorWall = this.wallNow();
    this.ceiling = null;
  }

  /** Wall-clock milliseconds that `simMs` simulated milliseconds take. */
  toWallMs(simMs: number): number {
    return simMs / this.timeScale;
  }
}
