/**
 * The sidecar's one error model. Every error leaving the sidecar is a SidecarError: a reason
 * (gco.sidecar.v1.Failure.Reason), the category that reason has (permanent, transient, internal: what
 * retrying can do, decided here and nowhere else) and a message for the resource's users. Failed git
 * commands that talked to a remote are classified from git's (and ssh's, curl's) words here; the words
 * users read are written at the job's boundary, which knows the remote and the credentials
 * (failure-messages.ts). Anything nobody classified is INTERNAL: a bug, a crashed git, a broken clone.
 * Credentials are never part of a message: they never reach a command line or a URL, and whatever
 * leaves the sidecar is scrubbed of the secrets in flight as well.
 */
import { Code } from '@connectrpc/connect';
import { Failure_Category as Category, Failure_Reason as Reason } from '@gco/sidecar-api';
import { GitCommandError } from './git/command.ts';

export { Category, Reason };

/** What each reason means for a retry of the same request. */
export const categories: Record<Reason, Category> = {
  [Reason.UNSPECIFIED]: Category.INTERNAL,
  [Reason.AUTHENTICATION_REJECTED]: Category.PERMANENT,
  [Reason.REPOSITORY_NOT_FOUND]: Category.PERMANENT,
  [Reason.INVALID_PATH]: Category.PERMANENT,
  [Reason.INVALID_ARGUMENT]: Category.PERMANENT,
  [Reason.HOST_KEY_REJECTED]: Category.PERMANENT,
  [Reason.BRANCH_EXISTS]: Category.PERMANENT,
  [Reason.CERTIFICATE_REJECTED]: Category.PERMANENT,
  [Reason.PUSH_REJECTED]: Category.PERMANENT,
  // The base branch may be created on the remote later, and nothing the controller watches would say so.
  [Reason.BRANCH_NOT_FOUND]: Category.TRANSIENT,
  [Reason.CONFLICT_UNRESOLVABLE]: Category.TRANSIENT,
  [Reason.TIMEOUT]: Category.TRANSIENT,
  [Reason.UNAVAILABLE]: Category.TRANSIENT,
  [Reason.INTERNAL]: Category.INTERNAL,
};

/** The gRPC status code of each reason, for clients that read only the code. */
export const connectCodes: Record<Reason, Code> = {
  [Reason.UNSPECIFIED]: Code.Unknown,
  [Reason.AUTHENTICATION_REJECTED]: Code.Unauthenticated,
  [Reason.REPOSITORY_NOT_FOUND]: Code.NotFound,
  [Reason.INVALID_PATH]: Code.InvalidArgument,
  [Reason.CONFLICT_UNRESOLVABLE]: Code.Aborted,
  [Reason.TIMEOUT]: Code.DeadlineExceeded,
  [Reason.UNAVAILABLE]: Code.Unavailable,
  [Reason.INVALID_ARGUMENT]: Code.InvalidArgument,
  [Reason.HOST_KEY_REJECTED]: Code.FailedPrecondition,
  [Reason.BRANCH_NOT_FOUND]: Code.FailedPrecondition,
  [Reason.BRANCH_EXISTS]: Code.AlreadyExists,
  [Reason.CERTIFICATE_REJECTED]: Code.FailedPrecondition,
  [Reason.PUSH_REJECTED]: Code.FailedPrecondition,
  [Reason.INTERNAL]: Code.Internal,
};

export class SidecarError extends Error {
  readonly reason: Reason;
  /**
   * The stack of what went wrong (the cause's), scrubbed by `redacted` while the job's secrets were still
   * known: an internal failure is logged with it after the job's credentials are gone, when the logger's
   * own redactor no longer knows them and the cause's message still holds git's raw words.
   */
  readonly detail?: string;
  constructor(reason: Reason, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.detail = options?.detail;
  }

  get category(): Category {
    return categories[this.reason] ?? Category.INTERNAL;
  }

  /** The same failure with `redact` applied to its message and to its stack, kept as `detail`. */
  redacted(redact: (text: string) => string): SidecarError {
    const stack = (this.cause instanceof Error ? this.cause : this).stack ?? '';
    return new SidecarError(this.reason, redact(this.message), { cause: this.cause, detail: redact(stack) });
  }
}

/**
 * A git command that talked to the remote and failed, classified. `what` says what it was doing
 * ("fetching branch main"); `stderr` is git's, ssh's and the server's words, from which the message for
 * users is written once the remote and the credentials are known (explainFailure).
 */
export class RemoteGitFailure extends SidecarError {
  readonly what: string;
  readonly stderr: string;
  constructor(reason: Reason, what: string, stderr: string, cause: GitCommandError) {
    super(reason, `${what}: ${gitMessage(stderr)}`, { cause });
    this.what = what;
    this.stderr = stderr;
  }
}

/** Patterns of a failed remote command's stderr, first match wins. */
export const remotePatterns: Array<[RegExp, Reason]> = [
  [
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i,
    Reason.HOST_KEY_REJECTED,
  ],
  // OpenSSL's and GnuTLS's words (Debian's git links libcurl-gnutls).
  [
    /SSL certificate problem|server certificate verification failed|certificate verify failed/i,
    Reason.CERTIFICATE_REJECTED,
  ],
  [
    /Authentication failed|returned error: 40[13]|could not read (Username|Password)|Permission denied \(|terminal prompts disabled|Invalid username or password/i,
    Reason.AUTHENTICATION_REJECTED,
  ],
  [
    /repository '.*' not found|returned error: 404|does not appear to be a git repository|Repository not found|No such file or directory/i,
    Reason.REPOSITORY_NOT_FOUND,
  ],
];

/**
 * Classifies a failed git command that talked to the remote. What no pattern knows is UNAVAILABLE:
 * network failures come in too many wordings (curl, GnuTLS, OpenSSH, proxies, servers) to list, and
 * stalling a scheduled resource on one would stop it for good. A git killed by a signal it was not sent
 * for its time limit crashed: INTERNAL.
 */
export function classifyRemoteFailure(error: GitCommandError, what: string): SidecarError {
  const { result } = error;
  if (result.timedOut) return new RemoteGitFailure(Reason.TIMEOUT, what, result.stderr, error);
  if (result.code === null) {
    return new SidecarError(
      Reason.INTERNAL,
      `${what}: git was killed by ${result.signal ?? 'a signal'} (it crashed, or the system ended it)`,
      { cause: error },
    );
  }
  for (const [pattern, reason] of remotePatterns) {
    if (pattern.test(result.stderr)) return new RemoteGitFailure(reason, what, result.stderr, error);
  }
  return new RemoteGitFailure(Reason.UNAVAILABLE, what, result.stderr, error);
}

/** errno codes of a full or exhausted volume or system: the sidecar's environment, not a bug. */
const exhausted = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'ENOMEM']);
const exhaustedWords = /No space left on device|Disk quota exceeded|Too many open files|Cannot allocate memory/i;

/**
 * Any error as a SidecarError: a SidecarError as it is; a git command past its time limit TIMEOUT; a full
 * volume UNAVAILABLE; everything else INTERNAL, keeping the error as its cause for the stack in the log.
 */
export function asSidecarError(error: unknown): SidecarError {
  if (error instanceof SidecarError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof GitCommandError && error.result.timedOut) {
    return new SidecarError(Reason.TIMEOUT, `${message}: it did not finish within its time limit`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const words = error instanceof GitCommandError ? error.result.stderr : message;
  if ((code !== undefined && exhausted.has(code)) || exhaustedWords.test(words)) {
    return new SidecarError(
      Reason.UNAVAILABLE,
      `the git sidecar ran out of room (${message}): give its data volume more space or memory, or lower --disk-budget so that idle clones are evicted sooner`,
      { cause: error },
    );
  }
  // A blobless clone's reader fetches old contents on demand; when that fetch fails, the reader dies.
  if (/promisor remote/i.test(words)) {
    return new SidecarError(
      Reason.UNAVAILABLE,
      `fetching the old content of a file from the remote failed (${message})`,
      { cause: error },
    );
  }
  return new SidecarError(
    Reason.INTERNAL,
    `the git sidecar failed unexpectedly (${message}): this is likely a bug; the sidecar's log has the details (an error line "job failed" with a stack)`,
    { cause: error },
  );
}

/**
 * The informative lines of git's stderr (fatal/error/remote lines, and ssh's own on a refused host key:
 * git's "Could not read from remote repository" says nothing of why), at most a few.
 */
export function gitMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l && !l.startsWith('hint:') && !/^(Cloning|remote: (Counting|Compressing|Enumerating|Total))/.test(l),
    );
  const important = lines.filter((l) => /^(fatal|error|remote|!|ERROR|Host key |No \S+ host key )/i.test(l));
  return (important.length > 0 ? important : lines).slice(-4).join('; ') || 'no message from git';
}
