/**
 * Requests to the git sidecar, credentials and failure expectations, for tests that call it (the
 * sidecar's, the images'), and benchmarks. Its own entry point (@gco/testenv/sidecar), so that the rest of
 * the harness, and the development git server's image, do not load the sidecar's API.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import {
  type CommitRequest,
  CommitRequestSchema,
  type Credentials,
  CredentialsSchema,
  type Failure_Reason,
  FileMode,
  failureOf,
} from '@gco/sidecar-api';

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

/** `origin` says where the credentials come from, as the controller does ("Secret ns/name"). */
export const tokenCredentials = (token: string, origin = '') =>
  create(CredentialsSchema, { method: { case: 'token', value: { token } }, origin });
export const basicCredentials = (username: string, password: string, origin = '') =>
  create(CredentialsSchema, { method: { case: 'basic', value: { username, password } }, origin });
export const sshCredentials = (privateKey: string, knownHosts: string, origin = '') =>
  create(CredentialsSchema, {
    method: { case: 'ssh', value: { privateKey: Buffer.from(privateKey), knownHosts: Buffer.from(knownHosts) } },
    origin,
  });

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
