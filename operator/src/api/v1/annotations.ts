/** Annotations users set on a GitCommit or PullRequest. */
export const annotations = {
  reconcileRequestedAt: 'gco.galos.one/reconcile-requested-at',
  retryPolicy: 'gco.galos.one/retry-policy',
  maxRetries: 'gco.galos.one/max-retries',
} as const;

export const retryPolicies = ['exponential-backoff', 'fixed', 'none'] as const;
export type RetryPolicyName = (typeof retryPolicies)[number];
