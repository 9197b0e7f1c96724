/**
 * The git sidecar's failures as execution failures. The sidecar classifies them (reason and category)
 * and writes their message for users, naming the credentials' Secret (the request says which it is);
 * here the reason becomes the contract's status reason, and nothing else is decided.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { Failure_Category as Category, failureOf, Failure_Reason as Reason } from '@gco/sidecar-api';
import { asExecutionFailure, ExecutionFailure, type FailureCategory } from './failure.ts';

/** The status reason of each of the sidecar's reasons. */
export const statusReasons: Record<Reason, string> = {
  [Reason.UNSPECIFIED]: 'GitError',
  [Reason.AUTHENTICATION_REJECTED]: 'AuthenticationFailed',
  [Reason.HOST_KEY_REJECTED]: 'HostKeyRejected',
  [Reason.REPOSITORY_NOT_FOUND]: 'RepositoryNotFound',
  [Reason.INVALID_PATH]: 'InvalidPath',
  [Reason.INVALID_ARGUMENT]: 'InvalidSpec',
  [Reason.BRANCH_NOT_FOUND]: 'BranchNotFound',
  [Reason.BRANCH_EXISTS]: 'BranchExists',
  [Reason.CERTIFICATE_REJECTED]: 'CertificateRejected',
  [Reason.CONFLICT_UNRESOLVABLE]: 'BranchMoved',
  [Reason.PUSH_REJECTED]: 'PushRejected',
  [Reason.TIMEOUT]: 'Timeout',
  [Reason.UNAVAILABLE]: 'GitUnavailable',
  [Reason.INTERNAL]: 'InternalError',
};

/** A sidecar that says nothing of what retrying can do has a bug: internal. */
const categories: Record<Category, FailureCategory> = {
  [Category.UNSPECIFIED]: 'internal',
  [Category.PERMANENT]: 'permanent',
  [Category.TRANSIENT]: 'transient',
  [Category.INTERNAL]: 'internal',
};

export function sidecarFailure(error: unknown): ExecutionFailure {
  if (!(error instanceof ConnectError)) return asExecutionFailure(error);
  const failure = failureOf(error);
  if (!failure && error.code === Code.DeadlineExceeded) {
    // The operator's own deadline for the call (--execution-timeout), not a sidecar that is gone.
    return new ExecutionFailure(
      'Timeout',
      `the git sidecar did not finish within --execution-timeout (${error.rawMessage}): the repository or the server is slow; raise --execution-timeout if this repeats`,
      'transient',
    );
  }
  if (!failure) {
    // gRPC's own failure, no answer of the sidecar's: it is restarting, or its socket is missing
    // (ENOENT comes as INTERNAL), or it died mid-call.
    return new ExecutionFailure(
      'SidecarUnavailable',
      `the git sidecar did not answer (${error.rawMessage}): is its container running, with the socket volume shared?`,
      'transient',
    );
  }
  return new ExecutionFailure(
    statusReasons[failure.reason] ?? 'GitError',
    failure.message || error.rawMessage,
    categories[failure.category] ?? 'internal',
  );
}
