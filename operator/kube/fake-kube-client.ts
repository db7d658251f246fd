/**
 * A KubeClient for unit tests: records every request and answers from a list of rules, first
 * match wins. An unmatched request fails the test loudly rather than passing by accident.
 */
import { KubeError, type KubeClient } from './kube-rest';

/** One recorded request. */
export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  contentType: string | undefined;
}

/** An answer: a body to resolve with, or an API error (status and Kubernetes reason). */
export type FakeAnswer = { body: unknown } | { status: number; reason?: string; message?: string };

/** A rule: which requests it answers, and how; `times` limits how often it applies. */
export interface FakeRule {
  method: string;
  path: string | RegExp;
  answer: FakeAnswer;
  times?: number;
}

/** Records requests and answers them from rules. */
export class FakeKubeClient implements KubeClient {
  readonly calls: RecordedCall[] = [];
  private readonly rules: FakeRule[] = [];

  /** Adds a rule; earlier rules win. */
  on(method: string, path: string | RegExp, answer: FakeAnswer, times?: number): this {
    this.rules.push({ method, path, answer, ...(times !== undefined ? { times } : {}) });
    return this;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    this.calls.push({ method, path, body, contentType });
    const rule = this.rules.find((r) => r.method === method && (typeof r.path === 'string' ? r.path === path : r.path.test(path)) && (r.times === undefined || r.times > 0));
    if (!rule) throw new Error(`fake API server: no rule for ${method} ${path}`);
    if (rule.times !== undefined) rule.times--;
    const a = rule.answer;
    if ('body' in a) return a.body as T;
    throw new KubeError(a.status, `${method} ${path}: ${a.status} ${a.message ?? a.reason ?? ''}`, a.reason);
  }
}
