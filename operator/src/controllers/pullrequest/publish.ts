/**
 * What a PullRequest execution publishes: the base branch plus this execution's changes on a head
 * branch, and one pull request for it. While the pull request this resource opened is still open, each
 * execution rebuilds its head branch and updates its title and body; once it is merged or closed, the
 * next execution opens a new one. Never two pull requests for one open proposal: the head branch is
 * recorded in status before the push, and an open pull request for it is looked up before creating one.
 */
import { create } from '@bufbuild/protobuf';
import { CommitRequestSchema, ResolveDefaultBranchRequestSchema } from '@gco/sidecar-api';
import type { PullRequest } from '../../api/v1/types.ts';
import { template } from '../../render/render.ts';
import { strftime } from '../../render/template.ts';
import type { ExecutionContext, Outcome } from '../execution/engine.ts';
import { permanent } from '../execution/failure.ts';
import { renderExecution } from '../execution/render-execution.ts';
import { sidecarFailure } from '../execution/sidecar-failure.ts';
import type { PublishSettings } from '../gitcommit/publish.ts';
import { coordinatesOf, GitHubClient, type PullRequestNode } from './github.ts';

export interface PullRequestSettings extends PublishSettings {
  githubApiUrl?: string;
}

export async function publishPullRequest(
  settings: PullRequestSettings,
  pr: PullRequest,
  ctx: ExecutionContext,
): Promise<Outcome> {
  const spec = pr.spec;
  const status = pr.status ?? {};
  const rendered = await renderExecution(settings, pr.metadata.namespace, spec, ctx);
  const method = rendered.credentials?.method;
  if (method?.case !== 'token') {
    throw permanent(
      'InvalidSecret',
      "spec.auth.secretName: a PullRequest needs a Secret with 'token', which is also its GitHub API token",
    );
  }
  const title = template(spec.pullRequest.title, ctx.instant, 'spec.pullRequest.title');
  const body = template(spec.pullRequest.body ?? '', ctx.instant, 'spec.pullRequest.body');
  const github = new GitHubClient(
    coordinatesOf(spec.repository.url, settings.githubApiUrl),
    method.value.token,
    ctx.signal,
  );
  const repositoryId = await github.repositoryId();
  const labelIds = await github.labelIds(spec.pullRequest.labels ?? []);
  const repository = { url: spec.repository.url, credentials: rendered.credentials };

  let base = spec.repository.baseBranch;
  if (!base) {
    try {
      base = (
        await settings.sidecar.resolveDefaultBranch(create(ResolveDefaultBranchRequestSchema, { repository }), {
          timeoutMs: settings.executionTimeoutMs,
          signal: ctx.signal,
        })
      ).branch;
    } catch (error) {
      throw sidecarFailure(error);
    }
  }

  // The proposal in progress: this resource's open pull request, or a head branch recorded by an
  // attempt that did not get as far as opening one.
  let open: PullRequestNode | undefined;
  if (status.pullRequestNumber) {
    const known = await github.pullRequest(status.pullRequestNumber);
    if (known?.state === 'OPEN') open = known;
  }
  if (!open && status.headBranch && !status.pullRequestNumber)
    open = await github.openPullRequestFor(status.headBranch);
  const reuseHead =
    open?.headRefName ?? (status.headBranch && !status.pullRequestNumber ? status.headBranch : undefined);
  const prefix = spec.pullRequest.branchPrefix ?? 'git-change-operator';
  const head = reuseHead ?? `${prefix}-${strftime('%Y%m%d%H%M%S', ctx.instant)}`;
  if (head !== status.headBranch) {
    await ctx.saveStatus({ headBranch: head, pullRequestNumber: null, pullRequestURL: null, pullRequestState: null });
  }

  let response: Awaited<ReturnType<typeof settings.sidecar.commit>>;
  try {
    response = await settings.sidecar.commit(
      create(CommitRequestSchema, {
        repository,
        branch: head,
        baseBranch: base,
        rebuildFromBase: true,
        operations: rendered.operations,
        author: rendered.author,
        message: rendered.message ?? title,
        executionId: ctx.execution.id,
        source: `PullRequest/${pr.metadata.namespace}/${pr.metadata.name}`,
        // A name made now must not replace a branch someone else made under it: two PullRequests with one
        // branchPrefix on one repository, executing in the same second, would otherwise share a head.
        newBranch: reuseHead === undefined,
      }),
      { timeoutMs: settings.executionTimeoutMs, signal: ctx.signal },
    );
  } catch (error) {
    const failure = sidecarFailure(error);
    if (failure.reason === 'BranchExists') {
      throw permanent(
        'BranchExists',
        `head branch ${head} exists already with another execution's commit (another PullRequest with branchPrefix '${prefix}' on this repository, in the same second?); it was left as it is. Give each PullRequest its own spec.pullRequest.branchPrefix; the next execution makes a new name`,
      );
    }
    throw failure;
  }

  if (!response.changed && !response.alreadyApplied) {
    // Nothing differs from the base: no branch, no pull request (an open one is left as it is).
    return {
      result: 'UpToDate',
      phase: open ? 'Created' : 'Pending',
      message: `no change against ${base}: ${open ? `pull request #${open.number} left as it is` : 'no pull request needed'}`,
      commitSHA: response.baseSha || undefined,
      branch: base,
      skipped: rendered.skipped,
      status: open ? {} : { headBranch: null },
    };
  }

  const result = open
    ? await github.update(open.id, title, body)
    : await github.create({ repositoryId, base, head, title, body, draft: spec.pullRequest.draft ?? false });
  await github.addLabels(result.id, labelIds);
  return {
    result: open ? 'PullRequestUpdated' : 'PullRequestOpened',
    phase: 'Created',
    message: `${open ? 'updated' : 'opened'} pull request #${result.number} (${head} into ${base}) at ${response.commitSha.slice(0, 7)}`,
    commitSHA: response.commitSha,
    branch: head,
    skipped: rendered.skipped,
    status: {
      headBranch: head,
      pullRequestNumber: result.number,
      pullRequestURL: result.url,
      pullRequestState: result.state,
    },
  };
}
