/**
 * One upstream attempt as an undici dispatch handler: the engine's answer is relayed to the client
 * as it arrives (status, headers, then each chunk, with backpressure), or, for a retriable 5xx
 * (or a 404 for a LoRA adapter another endpoint may have), read and dropped so the connection
 * stays reusable. Using `dispatch` rather than `request` spares
 * a response stream and an AbortSignal per request (see docs/performance.md).
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { UsageTap } from './usage-tap';
import { endToEndHeaders } from './hop-by-hop';

/** How an attempt ended. */
export type AttemptResult =
  | { kind: 'relayed'; status: number }
  | { kind: 'discarded'; status: number }
  | { kind: 'failed'; error: Error; relaying: boolean };

/** Where the gaps between a stream's events go (a bound histogram child); seconds. */
export interface GapObserver {
  observe(seconds: number): void;
}

/** Relays or discards one upstream response. */
export class RelayHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: Error | null = null;
  private mode: 'waiting' | 'relay' | 'discard' = 'waiting';
  private status = 0;
  private settled = false;
  /** Milliseconds from `startedAt` to the response headers, once they came. */
  headersAfterMs: number | null = null;
  /** Milliseconds from `startedAt` to the first body byte relayed to the client. */
  firstByteAfterMs: number | null = null;
  /** performance.now() when the last event was relayed; -1 before the first. */
  private lastEventAt = -1;

  constructor(
    private readonly res: ServerResponse,
    private readonly discard5xx: boolean,
    private readonly discard404: boolean,
    private readonly tap: UsageTap,
    private readonly extraHeaders: Record<string, string> | null,
    private readonly startedAt: number,
    /** For streamed answers: gets the gap before each relayed event (see onResponseData). */
    private readonly interToken: GapObserver | null,
    private readonly done: (r: AttemptResult) => void,
  ) {}

  /** Stops the attempt (timeout, client gone); safe before the request reached a socket. */
  abort(reason: Error): void {
    this.abortReason = reason;
    if (this.controller) this.controller.abort(reason);
    else this.settle({ kind: 'failed', error: reason, relaying: false });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx informational: the real status follows
    this.status = statusCode;
    this.headersAfterMs = Date.now() - this.startedAt;
    if ((statusCode >= 500 && this.discard5xx) || (statusCode === 404 && this.discard404)) {
      this.mode = 'discard';
      return;
    }
    this.mode = 'relay';
    const out = endToEndHeaders(headers, false, 'content-length');
    if (this.extraHeaders) Object.assign(out, this.extraHeaders);
    this.res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mode !== 'relay') return;
    if (this.firstByteAfterMs === null) this.firstByteAfterMs = Date.now() - this.startedAt;
    const eventsBefore = this.tap.events;
    this.tap.push(chunk);
    if (this.interToken !== null && this.tap.events > eventsBefore) this.observeGaps(this.tap.events - eventsBefore);
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  /**
   * `n` events arrived in one chunk: the time since the previous event is spread evenly over
   * them (gap / n, n times), so the sum stays the true elapsed time and a chunk that carries
   * several tokens does not look like one slow token. The events of the first chunk start the
   * clock; the time before them is the time to first token. Numbers only: nothing allocated.
   */
  private observeGaps(n: number): void {
    const now = performance.now();
    if (this.lastEventAt >= 0) {
      const each = (now - this.lastEventAt) / 1000 / n;
      for (let i = 0; i < n; i++) this.interToken!.observe(each);
    }
    this.lastEventAt = now;
  }

  onResponseEnd(): void {
    if (this.mode === 'relay') {
      this.res.end();
      this.settle({ kind: 'relayed', status: this.status });
    } else {
      this.settle({ kind: 'discarded', status: this.status });
    }
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    this.settle({ kind: 'failed', error: this.abortReason ?? error, relaying: this.mode === 'relay' });
  }

  private settle(r: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.done(r);
  }
}
