/**
 * The sidecar trusts no caller: every path, size and name of a job is checked again here, before any git
 * command runs, so a bad job fails whole and writes nothing. The rules for paths, branch names and authors
 * are the ones the operator and the CRD apply (@gco/common/validation).
 */

import { authorProblem, branchNameProblem, pathMaxBytes, pathProblem } from '@gco/common/validation';
import { type CommitRequest, FileMode } from '@gco/sidecar-api';
import { Reason, SidecarError } from '../errors.ts';

export interface Limits {
  maxFileBytes: number;
  maxJobBytes: number;
  maxOperations: number;
  maxPathBytes: number;
}

export const defaultLimits: Limits = {
  maxFileBytes: 10 * 1024 * 1024,
  maxJobBytes: 64 * 1024 * 1024,
  maxOperations: 10_000,
  maxPathBytes: pathMaxBytes,
};

const invalidPath = (path: string, why: string) =>
  new SidecarError(Reason.INVALID_PATH, `path ${JSON.stringify(path)} ${why}`);
const invalidArgument = (message: string) => new SidecarError(Reason.INVALID_ARGUMENT, message);

export function validatePath(path: string, limits: Pick<Limits, 'maxPathBytes'>): void {
  const problem = pathProblem(path, limits.maxPathBytes);
  if (problem) throw invalidPath(path, problem);
}

export function validateBranch(name: string, field: string): void {
  if (name === '') return;
  const problem = branchNameProblem(name);
  if (problem) throw invalidArgument(`${field} ${JSON.stringify(name)} is not a valid branch name: it ${problem}`);
}

export function validateCommitRequest(req: CommitRequest, limits: Limits): void {
  if (!req.repository?.url) throw invalidArgument('repository.url is required');
  validateBranch(req.branch, 'branch');
  validateBranch(req.baseBranch, 'base_branch');
  if (req.rebuildFromBase && req.branch === '') throw invalidArgument('rebuild_from_base needs an explicit branch');
  const authorFault = authorProblem(req.author ?? { name: '', email: '' });
  if (authorFault) throw invalidArgument(authorFault);
  if (!req.message.trim()) throw invalidArgument('message is required');
  if (req.message.includes('\0')) throw invalidArgument('message must not contain NUL');
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(req.executionId)) {
    throw invalidArgument('execution_id is required: 1 to 128 characters of [A-Za-z0-9._:-]');
  }
  if (/[\n\0]/.test(req.source)) throw invalidArgument('source must be one line');
  if (req.operations.length === 0) throw invalidArgument('at least one file operation is required');
  if (req.operations.length > limits.maxOperations) {
    throw invalidArgument(`${req.operations.length} operations exceed the limit of ${limits.maxOperations}`);
  }
  let total = 0;
  for (const op of req.operations) {
    validatePath(op.path, limits);
    if (op.mode === FileMode.UNSPECIFIED) throw invalidArgument(`operation on ${op.path} has no mode`);
    if (op.content.length > limits.maxFileBytes) {
      throw invalidArgument(
        `content of ${op.path} is ${op.content.length} bytes, over the limit of ${limits.maxFileBytes}`,
      );
    }
    total += op.content.length;
  }
  if (total > limits.maxJobBytes)
    throw invalidArgument(`the job's content is ${total} bytes, over the limit of ${limits.maxJobBytes}`);
}
