/**
 * The 429 for a refused decision: SluiceError SLUICE_RATE_LIMITED with a message that says which
 * limit, how large it is, what the request needed and when to come back, e.g.
 * `input token limit of route default/deepseek exceeded: 10 tokens per minute, this request needs
 * about 5, 2 remain; retry in 18s`. Built only on refusals, never for admitted requests.
 */
import { SluiceError } from '../../shared/errors/codes';
import { unitName, type Budget } from './limit-spec';
import type { LimitDecision } from './rate-limiter';
import { retryAfterSeconds } from './headers';

/** The error to answer a refused `decision` with (`estimate` as passed to `check`). */
export function refusalError(budget: Budget, decision: LimitDecision, estimate: number): SluiceError {
  const unit = unitName(budget.spec.unitMs);
  const who = scopeText(budget.scope);
  const local = decision.degraded ? ' (decided by this replica alone: the shared Redis is unreachable)' : '';
  const retry = `retry in ${retryAfterSeconds(decision.retryAfterMs)}s`;
  if (decision.limitedBy === 'output') {
    const out = decision.output!;
    const overdrawn = out.remaining < 0 ? ` (earlier responses overdrew it by ${-out.remaining})` : '';
    return new SluiceError('SLUICE_RATE_LIMITED', `output token limit of route ${budget.route}${who} exceeded: ${out.limit} tokens per ${unit}, none remain${overdrawn}; ${retry}${local}`);
  }
  const input = decision.input!;
  if (decision.neverFits) {
    return new SluiceError('SLUICE_RATE_LIMITED', `this request needs about ${estimate} input tokens but the input token limit of route ${budget.route}${who} is ${input.limit} per ${unit}: it can never fit; shorten the prompt or raise rateLimit.inputTokensPerUnit`);
  }
  return new SluiceError('SLUICE_RATE_LIMITED', `input token limit of route ${budget.route}${who} exceeded: ${input.limit} tokens per ${unit}, this request needs about ${estimate}, ${Math.max(0, input.remaining)} remain; ${retry}${local}`);
}

/** ` for user alice`, ` for tier premium`, ` for requests without a tier`, or nothing for `route`. */
function scopeText(scope: string): string {
  if (scope === 'tier:none') return ' for requests without a tier';
  if (scope.startsWith('user:')) return ` for user ${scope.slice(5)}`;
  if (scope.startsWith('tier:')) return ` for tier ${scope.slice(5)}`;
  return '';
}
