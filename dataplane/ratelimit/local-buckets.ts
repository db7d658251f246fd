/**
 * Token buckets in this replica's memory, one pair (input, output) per budget key: the store for
 * routes without `global`, and the fallback for global routes while their Redis is down.
 *
 * Memory is bounded two ways. A bucket that has refilled to full carries no information (a new
 * bucket starts full), so on every insert the two least recently used entries are dropped if they
 * are full by now. And at most `maxKeys` entries are kept: past that the least recently used one
 * is dropped even if not full, which forgives its debt; with 100k keys that takes 100k distinct
 * active users on one replica. A Map keeps insertion order, so re-inserting on use makes its first
 * entry the least recently used.
 */
import type { LimitSpec } from './limit-spec';
import { ALLOWED, admit, refill, take, type Admission } from './token-bucket';

/** Default bound on the number of budget keys held. */
export const DEFAULT_MAX_KEYS = 100_000;

/** One bucket pair: levels as of `ts` (a level is unused when its limit is null). */
interface Entry {
  in: number;
  out: number;
  ts: number;
  spec: LimitSpec;
}

/** In-memory bucket pairs by budget key, least recently used first. */
export class LocalBuckets {
  private readonly entries = new Map<string, Entry>();

  /** `now` returns ms on any monotonic scale; `maxKeys` bounds the number of keys held. */
  constructor(private readonly now: () => number, private readonly maxKeys = DEFAULT_MAX_KEYS) {}

  /** Checks a request estimated at `estimate` input tokens and, if admitted, takes them. */
  check(key: string, spec: LimitSpec, estimate: number): Admission {
    const e = this.touch(key, spec);
    const a = admit(spec.inputPerUnit === null ? null : e.in, spec.outputPerUnit === null ? null : e.out, spec, estimate);
    if (a.verdict === ALLOWED && spec.inputPerUnit !== null) a.inTokens = e.in = take(e.in, estimate, spec.inputPerUnit);
    return a;
  }

  /** Applies the after-response correction (may be negative) and the output tokens; may overdraw. */
  charge(key: string, spec: LimitSpec, inputCorrection: number, outputTokens: number): void {
    const e = this.touch(key, spec);
    if (spec.inputPerUnit !== null) e.in = take(e.in, inputCorrection, spec.inputPerUnit);
    if (spec.outputPerUnit !== null) e.out = take(e.out, outputTokens, spec.outputPerUnit);
  }

  /** Number of keys held. */
  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key` refilled to now and moved to the most recently used end. */
  private touch(key: string, spec: LimitSpec): Entry {
    const now = this.now();
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      // The spec may have changed with a new snapshot: refill and clamp against the new caps.
      if (spec.inputPerUnit !== null) e.in = refill(e.in, e.ts, spec.inputPerUnit, spec.unitMs, now);
      if (spec.outputPerUnit !== null) e.out = refill(e.out, e.ts, spec.outputPerUnit, spec.unitMs, now);
      e.ts = now;
      e.spec = spec;
    } else {
      this.reclaim(now);
      e = { in: spec.inputPerUnit ?? 0, out: spec.outputPerUnit ?? 0, ts: now, spec };
    }
    this.entries.set(key, e);
    return e;
  }

  /** Drops up to two least recently used entries that are full by now, then any beyond the bound. */
  private reclaim(now: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.entries.entries().next();
      if (first.done || !isFull(first.value[1], now)) break;
      this.entries.delete(first.value[0]);
    }
    while (this.entries.size >= this.maxKeys) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }
}

/** True when both levels have refilled to their caps (no information left to keep). */
function isFull(e: Entry, now: number): boolean {
  const { inputPerUnit: inCap, outputPerUnit: outCap, unitMs } = e.spec;
  return (inCap === null || refill(e.in, e.ts, inCap, unitMs, now) >= inCap)
    && (outCap === null || refill(e.out, e.ts, outCap, unitMs, now) >= outCap);
}
