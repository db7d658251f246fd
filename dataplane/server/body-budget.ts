/**
 * A bound on request-body bytes held in memory by the traffic listener at once, across every
 * request. The per-request cap (`--max-body-bytes`) alone lets N slow clients pin N × cap bytes;
 * this one makes the total bounded whatever the number of connections. A request takes bytes as
 * they arrive (or all its declared Content-Length up front) and gives them back when its response
 * is finished, since the buffered body lives until it has been forwarded.
 */

/** A counter of bytes in use against a fixed limit. */
export class BodyBudget {
  /** The limit, in bytes. */
  readonly limit: number;
  private used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes `n` bytes if they fit; false (and nothing taken) when they do not. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** Gives back `n` bytes taken earlier. */
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  /** Bytes in use now (metrics, tests). */
  get inUse(): number {
    return this.used;
  }
}
