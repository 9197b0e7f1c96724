/**
 * The one place a rendered execution becomes a job for the git sidecar, and the calls that send it:
 * both kinds commit through here, so a field of the request (a signing key, a new trailer) is added once.
 */
import { create } from '@bufbuild/protobuf';
import {
  type CommitRequest,
  CommitRequestSchema,
  type CommitResponse,
  ResolveDefaultBranchRequestSchema,
  type SidecarClient,
} from '@gco/sidecar-api';
import type { RenderedExecution } from './render-execution.ts';
import { sidecarFailure } from './sidecar-failure.ts';

export interface SidecarSettings {
  sidecar: SidecarClient;
  /** The longest one sidecar call may take. */
  executionTimeoutMs: number;
}

/** Where the commit goes, beyond the rendered files. */
export interface CommitTarget {
  /** The target branch; '' for the remote's default branch. */
  branch: string;
  /** When the target branch does not exist (or is rebuilt): the branch it starts from. */
  baseBranch?: string;
  /** Build on the base's tip and force the target to it (a pull request's head). */
  rebuildFromBase?: boolean;
  /** With rebuildFromBase: the target is named by this execution, so an existing one is not ours. */
  newBranch?: boolean;
  /** The commit message when the spec has none (a pull request's title). */
  defaultMessage?: string;
}

/** The resource an execution belongs to: the commit's Gco-Source trailer. */
export interface CommitSource {
  kind: string;
  namespace: string;
  name: string;
}

export function commitRequest(
  source: CommitSource,
  executionId: string,
  url: string,
  rendered: RenderedExecution,
  target: CommitTarget,
): CommitRequest {
  return create(CommitRequestSchema, {
    repository: { url, credentials: rendered.credentials },
    branch: target.branch,
    baseBranch: target.baseBranch ?? '',
    rebuildFromBase: target.rebuildFromBase ?? false,
    newBranch: target.newBranch ?? false,
    operations: rendered.operations,
    author: rendered.author,
    message: rendered.message ?? target.defaultMessage ?? '',
    executionId,
    source: `${source.kind}/${source.namespace}/${source.name}`,
  });
}

/** Sends a commit job; the sidecar's failures come back as execution failures with status reasons. */
export async function commit(
  settings: SidecarSettings,
  request: CommitRequest,
  signal: AbortSignal,
): Promise<CommitResponse> {
  try {
    return await settings.sidecar.commit(request, { timeoutMs: settings.executionTimeoutMs, signal });
  } catch (error) {
    throw sidecarFailure(error);
  }
}

/** The remote's default branch (its HEAD). */
export async function resolveDefaultBranch(
  settings: SidecarSettings,
  url: string,
  rendered: Pick<RenderedExecution, 'credentials'>,
  signal: AbortSignal,
): Promise<string> {
  try {
    const response = await settings.sidecar.resolveDefaultBranch(
      create(ResolveDefaultBranchRequestSchema, { repository: { url, credentials: rendered.credentials } }),
      { timeoutMs: settings.executionTimeoutMs, signal },
    );
    return response.branch;
  } catch (error) {
    throw sidecarFailure(error);
  }
}
