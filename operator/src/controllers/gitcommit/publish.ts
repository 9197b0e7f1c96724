/** What a GitCommit execution publishes: one commit on the target branch, through the git sidecar. */
import type { GitCommit, GitCommitStatus } from '../../api/v1/gitcommit.ts';
import { commit, commitRequest, type SidecarSettings } from '../execution/commit-request.ts';
import type { ExecutionContext, Outcome } from '../execution/executable.ts';
import { type RenderSettings, renderExecution } from '../execution/render-execution.ts';

export interface PublishSettings extends RenderSettings, SidecarSettings {}

export async function publishCommit(
  settings: PublishSettings,
  gc: GitCommit,
  ctx: ExecutionContext<GitCommitStatus>,
): Promise<Outcome<GitCommitStatus>> {
  const spec = gc.spec;
  const rendered = await renderExecution(settings, gc.metadata.namespace, spec, ctx);
  const response = await commit(
    settings,
    commitRequest(
      { kind: 'GitCommit', namespace: gc.metadata.namespace, name: gc.metadata.name },
      ctx.execution.id,
      spec.repository.url,
      rendered,
      { branch: spec.repository.branch ?? '' },
    ),
    ctx.signal,
  );
  const short = response.commitSha.slice(0, 7);
  const changed = response.changed || response.alreadyApplied;
  const files = rendered.operations.length;
  return {
    result: changed ? 'Committed' : 'UpToDate',
    phase: 'Committed',
    message: changed
      ? `committed ${short} to ${response.branch} (${files} file operation${files === 1 ? '' : 's'}${response.alreadyApplied ? ', found from an earlier attempt' : ''})`
      : `${response.branch} already has this content (${short || 'empty'})`,
    commitSHA: response.commitSha || undefined,
    branch: response.branch,
    skipped: rendered.skipped,
  };
}
