/**
 * The data structure behind FairQueue: every waiting request is linked twice, into one list in
 * arrival order (the oldest is dropped first and expires first) and into its user's FIFO within
 * its priority band (bands → users → requests). Adding and removing anywhere is O(1), so a
 * disconnect leaves at once; choosing the next request is O(users waiting in the top band),
 * since usage changes under the queue (window slide, corrections) and a heap keyed on it would
 * go stale.
 */
import type { QueueRelease, QueueRequest } from './fair-queue';

/** One user's waiting requests in one band. */
interface UserLine {
  readonly user: string;
  readonly band: Band;
  head: Waiter | null;
  tail: Waiter | null;
}

/** One priority band. */
interface Band {
  readonly priority: number;
  readonly users: Map<string, UserLine>;
  count: number;
}

/** A waiting request and the settlement of its admit promise. */
export class Waiter {
  resolve!: (release: QueueRelease) => void;
  reject!: (error: Error) => void;
  /** The listener on `req.signal`, removed when the request leaves. */
  onAbort: (() => void) | null = null;
  line: UserLine | null = null;
  prev: Waiter | null = null;
  next: Waiter | null = null;
  userPrev: Waiter | null = null;
  userNext: Waiter | null = null;

  /** `seq` orders arrivals when the clock does not (same millisecond). */
  constructor(readonly req: QueueRequest, readonly priority: number, readonly enqueuedAt: number, readonly seq: number) {}
}

/** Waiting requests by arrival, band and user. */
export class WaitingList {
  /** The oldest waiting request. */
  oldest: Waiter | null = null;
  private newest: Waiter | null = null;
  /** Requests waiting. */
  size = 0;
  /** Σ body bytes of the requests waiting. */
  bytes = 0;
  private readonly bands = new Map<number, Band>();
  /** Band priorities, highest first. */
  private readonly order: number[] = [];

  /** Appends a request (newest in arrival order, last of its user in its band). */
  add(w: Waiter): void {
    w.prev = this.newest;
    if (this.newest !== null) this.newest.next = w;
    else this.oldest = w;
    this.newest = w;

    let band = this.bands.get(w.priority);
    if (band === undefined) {
      band = { priority: w.priority, users: new Map(), count: 0 };
      this.bands.set(w.priority, band);
      let i = 0;
      while (i < this.order.length && this.order[i]! > w.priority) i++;
      this.order.splice(i, 0, w.priority);
    }
    let line = band.users.get(w.req.user);
    if (line === undefined) {
      line = { user: w.req.user, band, head: null, tail: null };
      band.users.set(w.req.user, line);
    }
    w.line = line;
    w.userPrev = line.tail;
    if (line.tail !== null) line.tail.userNext = w;
    else line.head = w;
    line.tail = w;

    band.count++;
    this.size++;
    this.bytes += w.req.bytes;
  }

  /** Unlinks a request; false when it was not waiting (already removed). */
  remove(w: Waiter): boolean {
    const line = w.line;
    if (line === null) return false;
    w.line = null;
    if (w.prev !== null) w.prev.next = w.next;
    else this.oldest = w.next;
    if (w.next !== null) w.next.prev = w.prev;
    else this.newest = w.prev;

    if (w.userPrev !== null) w.userPrev.userNext = w.userNext;
    else line.head = w.userNext;
    if (w.userNext !== null) w.userNext.userPrev = w.userPrev;
    else line.tail = w.userPrev;
    const band = line.band;
    if (line.head === null) band.users.delete(line.user);
    if (--band.count === 0) {
      this.bands.delete(band.priority);
      this.order.splice(this.order.indexOf(band.priority), 1);
    }

    this.size--;
    this.bytes -= w.req.bytes;
    return true;
  }

  /**
   * The request to release next: in the highest band, the head of the user with the lowest
   * `usageOf(user)`; on a tie, the user whose head arrived first. Null when empty.
   */
  next(usageOf: (user: string) => number): Waiter | null {
    if (this.size === 0) return null;
    const band = this.bands.get(this.order[0]!)!;
    let best: Waiter | null = null;
    let bestUsage = Infinity;
    for (const line of band.users.values()) {
      const usage = usageOf(line.user);
      if (best === null || usage < bestUsage || (usage === bestUsage && line.head!.seq < best.seq)) {
        best = line.head;
        bestUsage = usage;
      }
    }
    return best;
  }

  /** Waiting requests per band, highest band first. */
  bandCounts(): { priority: number; queued: number }[] {
    return this.order.map((priority) => ({ priority, queued: this.bands.get(priority)!.count }));
  }

  /** Users with waiting requests (a user waiting in two bands counts twice). */
  userCount(): number {
    let users = 0;
    for (const band of this.bands.values()) users += band.users.size;
    return users;
  }
}
