/**
 * The pull-request provider's failures as execution failures, at the provider boundary: a status reason
 * and a category for each kind, and a message that says what failed and what to do, naming the Secret
 * the token came from (which only the controller knows).
 */
import { type ExecutionFailure, internal, permanent, transient } from '../execution/failure.ts';
import { ProviderError, type ProviderErrorKind } from './provider-error.ts';

/** What the failure is about: the token's Secret (`namespace/name`), if the resource names one. */
export interface ProviderFailureContext {
  secret: string | undefined;
}

type Compose = (e: ProviderError, token: string) => string;

/** Per kind: the status reason (from the provider's name where it is the provider's own), the category, the words. */
export const providerFailures: Record<
  ProviderErrorKind,
  { reason: (provider: string) => string; category: 'permanent' | 'transient' | 'internal'; message: Compose }
> = {
  authentication: {
    reason: () => 'AuthenticationFailed',
    category: 'permanent',
    message: (e, token) =>
      `${e.endpoint} (${e.provider}) rejected ${token} (${e.message}) for ${e.repository}: replace it with a valid token`,
  },
  forbidden: {
    reason: () => 'InsufficientScopes',
    category: 'permanent',
    message: (e, token) =>
      `${e.provider} refused ${token} access to ${e.repository} (${e.message}): give it the 'repo' scope (a classic token), or read and write access to the repository's contents and pull requests (a fine-grained token or an app)`,
  },
  'not-found': {
    reason: () => 'RepositoryNotFound',
    category: 'permanent',
    message: (e, token) =>
      e.status === 404
        ? `${e.endpoint} has no ${e.provider} API (HTTP 404: ${e.message}): for a GitHub Enterprise Server whose API is elsewhere, start the operator with --github-api-url`
        : `${e.provider}: ${e.message} (no repository ${e.repository}, or ${token} may not see it): check spec.repository.url, and that the token may read this repository`,
  },
  'label-not-found': {
    reason: () => 'LabelNotFound',
    category: 'permanent',
    message: (e) =>
      `spec.pullRequest.labels: ${e.repository} has no label ${e.labels.map((l) => `'${l}'`).join(', ')}: create it, or remove it from the spec`,
  },
  validation: {
    reason: (provider) => `${provider}ValidationFailed`,
    category: 'permanent',
    message: (e) => `${e.provider} refused the request for ${e.repository}: ${e.message}`,
  },
  'rate-limited': {
    reason: () => 'RateLimited',
    category: 'transient',
    message: (e, token) =>
      `${e.provider}: ${e.message} (the rate limit of ${token}; it resets at ${new Date(Date.now() + (e.retryAfterMs ?? 0)).toISOString()})`,
  },
  unavailable: {
    reason: (provider) => `${provider}Unavailable`,
    category: 'transient',
    message: (e) => `the ${e.provider} API at ${e.endpoint} could not be reached, or failed: ${e.message}`,
  },
  internal: {
    reason: () => 'InternalError',
    category: 'internal',
    message: (e) =>
      `the ${e.provider} API at ${e.endpoint} answered what the operator did not expect (${e.message}): this is likely a bug; the operator's log has the details`,
  },
};

export function providerFailure(error: ProviderError, ctx: ProviderFailureContext): ExecutionFailure {
  const entry = providerFailures[error.kind] ?? providerFailures.internal;
  const token = ctx.secret ? `the token of Secret ${ctx.secret}` : 'the token';
  const reason = entry.reason(error.provider);
  const message = entry.message(error, token);
  if (entry.category === 'internal') return internal(reason, message, error);
  const failure = entry.category === 'permanent' ? permanent(reason, message) : transient(reason, message);
  failure.retryAfterMs = error.retryAfterMs;
  return failure;
}

/** Errors of a publish step as execution failures: a provider's through the table above, others as they are. */
export function asProviderFailure(error: unknown, ctx: ProviderFailureContext): unknown {
  return error instanceof ProviderError ? providerFailure(error, ctx) : error;
}
