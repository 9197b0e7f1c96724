/**
 * Why an execution failed, in the contract's words (a status reason), and what retrying can do: the
 * category, as Flux's Stalling/Waiting/Generic errors. Permanent failures stall the resource at once
 * until its spec, its Secret or its reconcile annotation changes; transient ones are retried with
 * backoff by the resource's retry policy; internal ones (a bug, anything nobody classified) are retried
 * as transient ones, at most `internalAttempts` attempts in all, then stall, and are logged as errors
 * with their stack. Whoever knows a failure classifies it (the sidecar its git failures, the pull-request
 * provider its API's); this is where it becomes the engine's.
 */
import { ApiError } from '../../runtime/kube-client.ts';

export type FailureCategory = 'permanent' | 'transient' | 'internal';

export class ExecutionFailure extends Error {
  readonly reason: string;
  readonly category: FailureCategory;
  /** Retry no sooner than this (a rate limit's reset time). */
  retryAfterMs: number | undefined;
  constructor(reason: string, message: string, category: FailureCategory, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.category = category;
  }

  get permanent(): boolean {
    return this.category === 'permanent';
  }
}

export const permanent = (reason: string, message: string) => new ExecutionFailure(reason, message, 'permanent');
export const transient = (reason: string, message: string) => new ExecutionFailure(reason, message, 'transient');
export const internal = (reason: string, message: string, cause?: unknown) =>
  new ExecutionFailure(reason, message, 'internal', { cause });

/**
 * Attempts an execution makes in all when they fail with internal errors: a fluke (a process killed
 * mid-call) gets a few more chances; a bug stalls the resource within about a minute of the default
 * backoff (5 + 10 + 20 + 40 s) instead of retrying forever.
 */
export const internalAttempts = 5;

/**
 * Any error of an attempt as an ExecutionFailure. The API server's answers and a broken connection to
 * it are transient (as they were retried before the error model): an upgrade of the control plane must
 * not stall scheduled resources as a bug. Anything else nobody classified is a bug of the operator.
 */
export function asExecutionFailure(error: unknown): ExecutionFailure {
  if (error instanceof ExecutionFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError || isSystemError(error)) return transient('APIError', `the API server: ${message}`);
  return internal(
    'InternalError',
    `the operator failed unexpectedly (${message}): this is likely a bug; the operator's log has the details (an error line with a stack)`,
    error,
  );
}

/** A failed socket or connection (ECONNREFUSED, ECONNRESET, ETIMEDOUT…), as Node reports it. */
function isSystemError(error: unknown): boolean {
  return (
    error instanceof Error &&
    typeof (error as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code as string)
  );
}
