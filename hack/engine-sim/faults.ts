import { ApiError } from './http-util';

/**
 * Fault injection for router tests (POST /sim/faults). A rule applies to the
 * next `count` inference requests (/v1/completions, /v1/chat/completions);
 * rules are consumed in the order they were added, one rule per request.
 * A rule may combine effects; they happen in this order:
 *   delayMs        hold the request this many *wall-clock* ms (not scaled)
 *                  before anything is sent;
 *   dropConnection destroy the socket; with afterTokens = k, only after k
 *                  output tokens were generated (mid-stream for streams);
 *   status         answer with this HTTP status and an OpenAI-style error body
 *                  (optionally with a Retry-After header).
 * A rule with only delayMs lets the request proceed normally after the hold.
 */
export interface FaultRule {
  /** Requests left to affect (>= 1). */
  count: number;
  status?: number;
  message?: string;
  retryAfterSec?: number;
  delayMs?: number;
  dropConnection?: boolean;
  afterTokens?: number;
}

const MAX_RULES = 1000;

function optInt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ApiError(400, 'BadRequestError', `"${key}" must be an integer in [${min}, ${max}]`, key);
  }
  return v;
}

/** Validate a POST /sim/faults body into a rule (400 ApiError if invalid). */
export function parseFaultRule(body: unknown): FaultRule {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'BadRequestError', 'fault rule must be a JSON object');
  }
  const o = body as Record<string, unknown>;
  const rule: FaultRule = {
    count: optInt(o, 'count', 1, 1_000_000) ?? 1,
    status: optInt(o, 'status', 100, 599),
    retryAfterSec: optInt(o, 'retryAfterSec', 0, 86_400),
    delayMs: optInt(o, 'delayMs', 0, 600_000),
    afterTokens: optInt(o, 'afterTokens', 0, 1_000_000),
  };
  if (o.message !== undefined) {
    if (typeof o.message !== 'string') throw new ApiError(400, 'BadRequestError', '"message" must be a string', 'message');
    rule.message = o.message;
  }
  if (o.dropConnection !== undefined) {
    if (typeof o.dropConnection !== 'boolean') {
      throw new ApiError(400, 'BadRequestError', '"dropConnection" must be a boolean', 'dropConnection');
    }
    rule.dropConnection = o.dropConnection;
  }
  if (rule.status === undefined && rule.delayMs === undefined && !rule.dropConnection) {
    throw new ApiError(400, 'BadRequestError', 'fault rule needs one of "status", "delayMs", "dropConnection"');
  }
  return rule;
}

/** Queue of fault rules for one pod. */
export class FaultInjector {
  private rules: FaultRule[] = [];
  /** Requests currently held by a delayMs fault. */
  held = 0;

  /** Append a rule. */
  add(rule: FaultRule): void {
    if (this.rules.length >= MAX_RULES) throw new ApiError(400, 'BadRequestError', `at most ${MAX_RULES} fault rules`);
    this.rules.push({ ...rule });
  }

  /** Remove all rules; returns how many there were. */
  clear(): number {
    const n = this.rules.length;
    this.rules = [];
    return n;
  }

  /** Pending rules (copies). */
  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Consume one use of the first rule, or null if there is none. */
  take(): FaultRule | null {
    const r = this.rules[0];
    if (!r) return null;
    r.count--;
    if (r.count <= 0) this.rules.shift();
    return { ...r, count: 1 };
  }
}
