/**
 * A pull-request provider's failure, classified by the provider (GitHub's API knows its 401s and
 * RATE_LIMITED errors), in words that do not depend on which provider it is. What it means for the
 * resource (status reason, retry, the Secret to name) is decided at the provider boundary
 * (provider-failure.ts), not inside the client.
 */
export type ProviderErrorKind =
  /** The token was refused (401). */
  | 'authentication'
  /** The token is valid but may not do this (403, missing scopes or permissions). */
  | 'forbidden'
  /** No such repository, or not for this token; or no API at the endpoint (an HTTP 404). */
  | 'not-found'
  /** Labels the spec names that the repository does not have. */
  | 'label-not-found'
  /** The provider refused the request as it is (422, a pull request that exists already). */
  | 'validation'
  /** A rate limit; `retryAfterMs` says when it resets. */
  | 'rate-limited'
  /** The provider could not be reached, or failed (5xx, network). */
  | 'unavailable'
  /** An answer the client does not understand, or a request it should never have made: a bug. */
  | 'internal';

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  /** "GitHub". */
  readonly provider: string;
  /** The API's host, as users would look for it. */
  readonly endpoint: string;
  /** `owner/name`. */
  readonly repository: string;
  /** The HTTP status, when the failure was one. */
  readonly status: number | undefined;
  /** Retry no sooner than this (rate limits). */
  readonly retryAfterMs: number | undefined;
  /** For label-not-found: the labels that are missing. */
  readonly labels: string[];
  constructor(
    kind: ProviderErrorKind,
    where: { provider: string; endpoint: string; repository: string },
    /** The provider's own words. */
    detail: string,
    options: { cause?: unknown; status?: number; retryAfterMs?: number; labels?: string[] } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.provider = where.provider;
    this.endpoint = where.endpoint;
    this.repository = where.repository;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.labels = options.labels ?? [];
  }
}
