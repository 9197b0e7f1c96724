/**
 * Failures the controller can act on. Every error leaving the sidecar is a SidecarError with a reason
 * (gco.sidecar.v1.Failure.Reason) and whether retrying can help; git's own words are kept in the message
 * (credentials are never part of them: they never reach a command line or a URL).
 */
import { Failure_Reason as Reason } from '@gco/sidecar-api';
import { GitCommandError } from './git/command.ts';

export { Reason };

const retryableReasons = new Set([Reason.UNAVAILABLE, Reason.TIMEOUT, Reason.CONFLICT_UNRESOLVABLE]);

export class SidecarError extends Error {
  readonly reason: Reason;
  readonly retryable: boolean;
  constructor(reason: Reason, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryable = options?.retryable ?? retryableReasons.has(reason);
  }
}

const patterns: Array<[RegExp, Reason]> = [
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

/** Turns a failed git command that talked to a remote into the reason the controller acts on. */
export function classifyRemoteFailure(error: unknown, what: string): SidecarError {
  if (error instanceof SidecarError) return error;
  if (!(error instanceof GitCommandError)) {
    return new SidecarError(Reason.UNAVAILABLE, `${what}: ${String(error)}`, { cause: error });
  }
  if (error.result.timedOut) return new SidecarError(Reason.TIMEOUT, `${what}: git timed out`, { cause: error });
  const stderr = error.result.stderr;
  const detail = gitMessage(stderr);
  for (const [pattern, reason] of patterns) {
    if (pattern.test(stderr)) return new SidecarError(reason, `${what}: ${detail}`, { cause: error });
  }
  return new SidecarError(Reason.UNAVAILABLE, `${what}: ${detail}`, { cause: error });
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
