/** What a GitCommit execution publishes: one commit on the target branch, through the git sidecar. */
import { create } from '@bufbuild/protobuf';
import { CommitRequestSchema, type SidecarClient } from '@gco/sidecar-api';
import type { GitCommit } from '../../api/v1/types.ts';
import type { ExecutionContext, Outcome } from '../execution/engine.ts';
import { type RenderSettings, renderExecution } from '../execution/render-execution.ts';
import { sidecarFailure } from '../execution/sidecar-failure.ts';

export interface PublishSettings extends RenderSettings {
  sidecar: SidecarClient;
  executionTimeoutMs: number;
}

export async function publishCommit(settings: PublishSettings, gc: GitCommit, ctx: ExecutionContext): Promise<Outcome> {
  const spec = gc.spec;
  const rendered = await renderExecution(settings, gc.metadata.namespace, spec, ctx);
  let response: Awaited<ReturnType<SidecarClient['commit']>>;
  try {
    response = await settings.sidecar.commit(
      create(CommitRequestSchema, {
        repository: { url: spec.repository.url, credentials: rendered.credentials },
        branch: spec.repository.branch ?? '',
        operations: rendered.operations,
        author: rendered.author,
        message: rendered.message ?? '',
        executionId: ctx.execution.id,
        source: `GitCommit/${gc.metadata.namespace}/${gc.metadata.name}`,
      }),
      { timeoutMs: settings.executionTimeoutMs, signal: ctx.signal },
    );
  } catch (error) {
    throw sidecarFailure(error);
  }
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
