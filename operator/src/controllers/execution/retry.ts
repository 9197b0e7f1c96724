/**
 * The retry policy of a resource, from its annotations: `gco.galos.one/retry-policy`
 * (`exponential-backoff` by default, `fixed`, `none`) and `gco.galos.one/max-retries` (no cap by
 * default). Exponential backoff starts at 5 s and doubles to a 10-minute cap; `fixed` waits 30 s.
 */
import { annotations, type RetryPolicyName, retryPolicies } from '../../api/v1/annotations.ts';
import { permanent } from './failure.ts';

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
