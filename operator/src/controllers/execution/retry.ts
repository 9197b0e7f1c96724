/**
 * The retry policy of a resource, from its annotations: `gco.galos.one/retry-policy`
 * (`exponential-backoff` by default, `fixed`, `none`) and `gco.galos.one/max-retries` (no cap by
 * default). Exponential backoff starts at 5 s and doubles to a 10-minute cap; `fixed` waits 30 s.
 */
import { annotations, type RetryPolicyName, retryPolicies } from '../../api/v1/annotations.ts';
import { type ExecutionFailure, permanent } from './failure.ts';

export interface RetryPolicy {
  kind: RetryPolicyName;
  maxRetries: number | undefined;
}

export const backoff = { initialMs: 5_000, maxMs: 10 * 60_000, fixedMs: 30_000 };

export function retryPolicyOf(metadataAnnotations: Record<string, string> | undefined): RetryPolicy {
  const kind = metadataAnnotations?.[annotations.retryPolicy] ?? 'exponential-backoff';
  if (!isRetryPolicyName(kind)) {
    throw permanent(
      'InvalidAnnotation',
      `annotation ${annotations.retryPolicy}: '${kind}' is not one of ${retryPolicies.join(', ')}`,
    );
  }
  const max = metadataAnnotations?.[annotations.maxRetries];
  if (max !== undefined && !/^\d+$/.test(max)) {
    throw permanent('InvalidAnnotation', `annotation ${annotations.maxRetries}: '${max}' is not a whole number`);
  }
  return { kind, maxRetries: max === undefined ? undefined : Number(max) };
}

function isRetryPolicyName(name: string): name is RetryPolicyName {
  return (retryPolicies as readonly string[]).includes(name);
}

/** The delay before retry number `retry` (1-based), or undefined when the policy allows no more. */
export function retryDelayMs(policy: RetryPolicy, retry: number): number | undefined {
  if (policy.kind === 'none') return undefined;
  if (policy.maxRetries !== undefined && retry > policy.maxRetries) return undefined;
  if (policy.kind === 'fixed') return backoff.fixedMs;
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** (retry - 1));
}

/** What follows a failed attempt: a retry after a delay, or a stall with its reason. */
export type AfterFailure = { retryInMs: number } | { stall: { reason: string; message: string } };

/**
 * A permanent failure stalls at once; a transient one is retried as the policy says, no sooner than a
 * rate limit's reset, until the policy allows no more (RetriesExhausted). `attempt` is 1-based.
 */
export function afterFailure(policy: RetryPolicy, failure: ExecutionFailure, attempt: number): AfterFailure {
  if (failure.permanent) return { stall: { reason: failure.reason, message: failure.message } };
  const delay = retryDelayMs(policy, attempt);
  if (delay !== undefined) return { retryInMs: Math.max(delay, failure.retryAfterMs ?? 0) };
  const limit = policy.maxRetries !== undefined ? `, max-retries ${policy.maxRetries}` : '';
  return {
    stall: {
      reason: 'RetriesExhausted',
      message: `gave up after ${attempt} attempt(s) (${policy.kind}${limit}): ${failure.reason}: ${failure.message}`,
    },
  };
}
