/** Helpers for the queue's unit tests: a manual clock with timers, and a microtask flush. */
import type { QueueTimers } from './fair-queue';

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** A clock that moves only when told to, firing the timers that fall due on the way. */
export class ManualClock implements QueueTimers {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start = 0) {
    this.time = start;
  }

  /** The current time, ms; a bound function to pass as `now`. */
  readonly now = (): number => this.time;

  /** Schedules `fn` at now + ms. */
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as ManualTimer);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves the clock forward by `ms` without firing timers, as when the event loop is blocked. */
  skip(ms: number): void {
    this.time += ms;
  }

  /** Moves the clock forward by `ms`, firing due timers in order at their own time. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: ManualTimer | null = null;
      for (const t of this.timers) if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (next === null) break;
      this.timers.delete(next);
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}

/** Resolves after every promise job queued so far has run (a turn of the event loop, not a delay). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Jain's fairness index J = (Σx)² / (n·Σx²): 1 when all equal, 1/n when one takes everything. */
export function jain(xs: readonly number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}
