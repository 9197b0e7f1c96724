/**
 * Why an execution failed, in the contract's words (a status reason), and whether retrying can help.
 * Transient failures are retried with backoff; permanent ones stall the resource at once until its
 * spec, its Secret or its reconcile annotation changes.
 */
export class ExecutionFailure extends Error {
  readonly reason: string;
  readonly permanent: boolean;
  /** Retry no sooner than this (a rate limit's reset time). */
  retryAfterMs: number | undefined;
  constructor(reason: string, message: string, opts: { permanent: boolean }) {
    super(message);
    this.reason = reason;
    this.permanent = opts.permanent;
  }
}

export const permanent = (reason: string, message: string) =>
  new ExecutionFailure(reason, message, { permanent: true });
export const transient = (reason: string, message: string) =>
  new ExecutionFailure(reason, message, { permanent: false });
