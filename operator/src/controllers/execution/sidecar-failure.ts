/** Maps the git sidecar's failures to execution failures with the contract's status reasons. */
import { Code, ConnectError } from '@connectrpc/connect';
import { failureOf, Failure_Reason as Reason } from '@gco/sidecar-api';
import { type ExecutionFailure, permanent, transient } from './failure.ts';

const reasons: Record<number, { reason: string; permanent: boolean }> = {
  [Reason.AUTHENTICATION_REJECTED]: { reason: 'AuthenticationFailed', permanent: true },
  [Reason.HOST_KEY_REJECTED]: { reason: 'HostKeyRejected', permanent: true },
  [Reason.REPOSITORY_NOT_FOUND]: { reason: 'RepositoryNotFound', permanent: true },
  [Reason.INVALID_PATH]: { reason: 'InvalidPath', permanent: true },
  [Reason.INVALID_ARGUMENT]: { reason: 'InvalidSpec', permanent: true },
  [Reason.BRANCH_NOT_FOUND]: { reason: 'BranchNotFound', permanent: false },
  [Reason.BRANCH_EXISTS]: { reason: 'BranchExists', permanent: true },
  [Reason.CERTIFICATE_REJECTED]: { reason: 'CertificateRejected', permanent: true },
  [Reason.CONFLICT_UNRESOLVABLE]: { reason: 'BranchMoved', permanent: false },
  [Reason.TIMEOUT]: { reason: 'Timeout', permanent: false },
  [Reason.UNAVAILABLE]: { reason: 'GitUnavailable', permanent: false },
};

export function sidecarFailure(error: unknown): ExecutionFailure {
  const failure = failureOf(error);
  const message = error instanceof ConnectError ? error.rawMessage : String(error);
  if (!failure) {
    if (error instanceof ConnectError && (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded)) {
      return transient('SidecarUnavailable', `the git sidecar did not answer: ${message}`);
    }
    return transient('SidecarUnavailable', `calling the git sidecar failed: ${message}`);
  }
  const mapped = reasons[failure.reason] ?? { reason: 'GitError', permanent: !failure.retryable };
  if (failure.reason === Reason.CERTIFICATE_REJECTED)
    return permanent(
      mapped.reason,
      `${message} (for a server with a private CA, add the CA's PEM bundle to the auth Secret as ca.crt)`,
    );
  if (failure.reason === Reason.CONFLICT_UNRESOLVABLE && !failure.retryable) return permanent('PushRejected', message);
  return mapped.permanent ? permanent(mapped.reason, message) : transient(mapped.reason, message);
}
