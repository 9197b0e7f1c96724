/** Helpers for the sidecar's tests: requests, and what the remote repository really holds. */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { run, runOk } from '@gco/testenv';
import {
  type CommitRequest,
  CommitRequestSchema,
  type Credentials,
  CredentialsSchema,
  type Failure_Reason,
  FileMode,
  failureOf,
} from '../src/client.ts';

export interface Op {
  path: string;
  content?: string;
  mode?: 'overwrite' | 'append' | 'delete';
  yaml?: boolean;
}

let counter = 0;
export function executionId(prefix = 'exec'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

const modes = { overwrite: FileMode.OVERWRITE, append: FileMode.APPEND, delete: FileMode.DELETE };

export function commitRequest(opts: {
  url: string;
  ops: Op[];
  branch?: string;
  baseBranch?: string;
  id?: string;
  message?: string;
  credentials?: Credentials;
  rebuildFromBase?: boolean;
  newBranch?: boolean;
}): CommitRequest {
  return create(CommitRequestSchema, {
    repository: { url: opts.url, credentials: opts.credentials },
    branch: opts.branch ?? 'main',
    baseBranch: opts.baseBranch ?? '',
    operations: opts.ops.map((op) => ({
      path: op.path,
      content: Buffer.from(op.content ?? ''),
      mode: modes[op.mode ?? 'overwrite'],
      yamlDocument: op.yaml ?? false,
    })),
    author: { name: 'Sidecar Test', email: 'sidecar@example.com' },
    message: opts.message ?? 'Test commit',
    executionId: opts.id ?? executionId(),
    source: 'GitCommit/tests/sidecar',
    rebuildFromBase: opts.rebuildFromBase ?? false,
    newBranch: opts.newBranch ?? false,
  });
}

export const tokenCredentials = (token: string) =>
  create(CredentialsSchema, { method: { case: 'token', value: { token } } });
export const basicCredentials = (username: string, password: string) =>
  create(CredentialsSchema, { method: { case: 'basic', value: { username, password } } });
export const sshCredentials = (privateKey: string, knownHosts: string) =>
  create(CredentialsSchema, {
    method: { case: 'ssh', value: { privateKey: Buffer.from(privateKey), knownHosts: Buffer.from(knownHosts) } },
  });

/** A file's content on a branch of a bare repository, or undefined. */
export async function fileAt(gitDir: string, branch: string, path: string): Promise<string | undefined> {
  const result = await run('git', ['--git-dir', gitDir, 'cat-file', '-p', `refs/heads/${branch}:${path}`]);
  return result.code === 0 ? result.stdout : undefined;
}

export async function commitCount(gitDir: string, branch: string): Promise<number> {
  const result = await run('git', ['--git-dir', gitDir, 'rev-list', '--count', `refs/heads/${branch}`]);
  return result.code === 0 ? Number(result.stdout.trim()) : 0;
}

export async function headOf(gitDir: string, branch: string): Promise<string> {
  return (await runOk('git', ['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`])).trim();
}

/** Execution ids of the commits on a branch, oldest first. */
export async function executionsOn(gitDir: string, branch: string): Promise<string[]> {
  const out = await runOk('git', [
    '--git-dir',
    gitDir,
    'log',
    '--reverse',
    '--format=%(trailers:key=Gco-Execution,valueonly)',
    `refs/heads/${branch}`,
  ]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

export async function expectFailure(
  promise: Promise<unknown>,
  reason: Failure_Reason,
  message?: RegExp,
): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    const failure = failureOf(error);
    assert.ok(failure, `expected a Failure detail, got ${String(error)}`);
    assert.equal(failure.reason, reason, `reason ${failure.reason} (${String(error)})`);
    if (message) assert.match(String((error as Error).message), message);
    return error as Error;
  }
  assert.fail('expected the call to fail');
}
