/**
 * The sidecar trusts no caller: every path, size and name of a job is checked again here, before any git
 * command runs, so a bad job fails whole and writes nothing.
 */
import { Reason, SidecarError } from '../errors.ts';
import { type CommitRequest, FileMode } from '../gen/gco/sidecar/v1/sidecar_pb.js';

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
  maxPathBytes: 4096,
};

const invalidPath = (path: string, why: string) =>
  new SidecarError(Reason.INVALID_PATH, `path ${JSON.stringify(path)} ${why}`);
const invalidArgument = (message: string) => new SidecarError(Reason.INVALID_ARGUMENT, message);

export function validatePath(path: string, limits: Pick<Limits, 'maxPathBytes'>): void {
  if (path === '') throw invalidPath(path, 'is empty');
  if (Buffer.byteLength(path) > limits.maxPathBytes)
    throw invalidPath(path, `is longer than ${limits.maxPathBytes} bytes`);
  if (path.includes('\0')) throw invalidPath(path, 'contains a NUL character');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\x01-\x1f\x7f]/.test(path)) throw invalidPath(path, 'contains a control character');
  if (path.startsWith('/')) throw invalidPath(path, "must be relative (it starts with '/')");
  if (path.includes('\\')) throw invalidPath(path, "must use '/' as separator, not '\\'");
  for (const segment of path.split('/')) {
    if (segment === '') throw invalidPath(path, "has an empty segment ('//' or a trailing '/')");
    if (segment === '.' || segment === '..') throw invalidPath(path, `has a '${segment}' segment`);
    // Case-insensitive, as git protects .git on case-insensitive file systems.
    if (segment.toLowerCase() === '.git') throw invalidPath(path, "points into '.git'");
  }
}

/**
 * Why a short branch name is refused, or undefined when it is fine. `git check-ref-format --branch`'s
 * rules, plus names that would shadow other refs on the remote or in users' clones: the sidecar pushes
 * `refs/heads/<name>`, and a branch named `refs/heads/main` becomes `refs/heads/refs/heads/main`, after
 * which every push to `refs/heads/main` is refused as ambiguous ("matches more than one"), blocking
 * every other resource's commits to main. The CRD's CEL rules (operator/src/api/v1/validation.ts) say
 * the same; this is the one definition the operator and the sidecar both apply.
 */
export function branchNameProblem(name: string): string | undefined {
  if (name.length > 255) return 'is longer than 255 characters';
  if (name.startsWith('-')) return "must not start with '-'";
  if (name === '@') return "must not be '@' (git reads it as HEAD)";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) {
    return "must not contain spaces, control characters, '~', '^', ':', '?', '*', '[' or '\\'";
  }
  if (name.includes('..')) return "must not contain '..'";
  if (name.includes('@{')) return "must not contain '@{'";
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return "must not start or end with '/' or contain '//'";
  }
  if (name.endsWith('.')) return "must not end with '.'";
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return "must not have a '/'-separated part starting with '.'";
    if (part.endsWith('.lock')) return "must not have a '/'-separated part ending with '.lock'";
  }
  if (/^(refs|heads|tags|remotes)(\/|$)/.test(name)) {
    return "must be a short branch name such as 'main' (not 'refs/…', 'heads/…', 'tags/…' or 'remotes/…', which name or shadow other refs)";
  }
  if (/(^|\/)HEAD$/.test(name) || /^[A-Z_]*_HEAD$/.test(name)) {
    return "must not be 'HEAD' or a pseudo-ref such as 'FETCH_HEAD'";
  }
  return undefined;
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
  if (!req.author?.name.trim() || !req.author.email.trim()) throw invalidArgument('author name and email are required');
  if (/[<>\n\0]/.test(req.author.name + req.author.email)) {
    throw invalidArgument("author name and email must not contain '<', '>', newlines or NUL");
  }
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
