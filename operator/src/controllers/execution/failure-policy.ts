/**
 * What follows a failed attempt: a retry after a delay, or a stall with a reason and a message. The
 * failure's category decides (permanent: stall; transient: the resource's retry policy; internal: that
 * policy too, but at most `internalAttempts` attempts in all); nothing here looks at which reason it is.
 */
import { type ExecutionFailure, internalAttempts } from './failure.ts';
import { type RetryPolicy, retryDelayMs } from './retry.ts';

export type NextStep = { retryInMs: number } | { stall: { reason: string; message: string } };

/** The step after the `attempts`-th attempt of an execution failed with `failure`. */
export function afterFailure(failure: ExecutionFailure, policy: RetryPolicy, attempts: number): NextStep {
  if (failure.category === 'permanent') return { stall: { reason: failure.reason, message: failure.message } };
  const bounded = failure.category === 'internal' && attempts >= internalAttempts;
  const delay = bounded ? undefined : retryDelayMs(policy, attempts);
  if (delay !== undefined) return { retryInMs: Math.max(delay, failure.retryAfterMs ?? 0) };
  const policyText = `${policy.kind}${policy.maxRetries !== undefined ? `, max-retries ${policy.maxRetries}` : ''}`;
  if (failure.category === 'internal') {
    const why = bounded ? `internal errors are retried ${internalAttempts - 1} times at most` : policyText;
    return {
      stall: { reason: failure.reason, message: `gave up after ${attempts} attempt(s) (${why}): ${failure.message}` },
    };
  }
  return {
    stall: {
      reason: 'RetriesExhausted',
      message: `gave up after ${attempts} attempt(s) (${policyText}): ${failure.reason}: ${failure.message}`,
    },
  };
}
