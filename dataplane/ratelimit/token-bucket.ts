/**
 * Token-bucket arithmetic shared by the local buckets and, line for line, by the Redis Lua script
 * (redis-script.ts); a test runs both on the same sequence and compares the answers.
 *
 * A bucket of capacity C (the per-unit limit) holds `tokens` at time `ts` and refills
 * continuously: tokens(now) = min(C, tokens + (now − ts) · C / unitMs). Admission:
 * - input: a request estimated at E tokens needs tokens ≥ E and takes E; E > C can never fit;
 * - output: needs tokens > 0 (the response size is unknown), takes nothing yet.
 * Charges after the response may drive a bucket below zero (overdraw); it then refuses until it
 * has refilled above zero (output) or to the next estimate (input).
 */
import type { LimitSpec } from './limit-spec';

/** The request may go. */
export const ALLOWED = 0;
/** The input bucket holds fewer tokens than the estimate. */
export const INPUT_SHORT = 1;
/** The output bucket is at or below zero. */
export const OUTPUT_SHORT = 2;
/** The estimate is larger than the input bucket's capacity: waiting cannot help. */
export const NEVER_FITS = 3;

/** The outcome code of an admission check (one of the constants above). */
export type Verdict = typeof ALLOWED | typeof INPUT_SHORT | typeof OUTPUT_SHORT | typeof NEVER_FITS;

/** An admission check's outcome and the two buckets' levels after it (null: no such limit). */
export interface Admission {
  verdict: Verdict;
  /** ms until both buckets would admit this request; 0 when allowed or never fits. */
  waitMs: number;
  inTokens: number | null;
  outTokens: number | null;
}

/** tokens(now) = min(cap, tokens + (now − ts) · cap / unitMs); a clock going back refills nothing. */
export function refill(tokens: number, ts: number, cap: number, unitMs: number, now: number): number {
  const elapsed = now > ts ? now - ts : 0;
  return Math.min(cap, tokens + (elapsed * cap) / unitMs);
}

/** ms until a bucket at `tokens` is full again: ceil((cap − tokens) · unitMs / cap), 0 when full. */
export function resetMs(tokens: number, cap: number, unitMs: number): number {
  return tokens >= cap ? 0 : Math.ceil(((cap - tokens) * unitMs) / cap);
}

/**
 * Decides admission from the refilled levels (null = no limit). Does not charge; the caller takes
 * `estimate` from the input bucket when the verdict is ALLOWED. When both buckets are short,
 * `waitMs` is the longer wait and the verdict names that bucket (input on a tie).
 */
export function admit(inTokens: number | null, outTokens: number | null, spec: LimitSpec, estimate: number): Admission {
  let inWait = 0;
  let outWait = 0;
  if (inTokens !== null) {
    const cap = spec.inputPerUnit!;
    if (estimate > cap) return { verdict: NEVER_FITS, waitMs: 0, inTokens, outTokens };
    // Time to refill the missing (E − tokens): (E − tokens) · unitMs / cap, at least 1 ms.
    if (inTokens < estimate) inWait = Math.ceil(((estimate - inTokens) * spec.unitMs) / cap);
  }
  if (outTokens !== null && outTokens <= 0) {
    // Strictly above zero: floor(−tokens · unitMs / cap) + 1 ms.
    outWait = Math.floor((-outTokens * spec.unitMs) / spec.outputPerUnit!) + 1;
  }
  if (inWait === 0 && outWait === 0) return { verdict: ALLOWED, waitMs: 0, inTokens, outTokens };
  return { verdict: inWait >= outWait ? INPUT_SHORT : OUTPUT_SHORT, waitMs: Math.max(inWait, outWait), inTokens, outTokens };
}

/** The level after taking `amount` (negative = refund), never above `cap`; may go below zero. */
export function take(tokens: number, amount: number, cap: number): number {
  return Math.min(cap, tokens - amount);
}
