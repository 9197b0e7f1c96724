/**
 * What a PullRequest execution publishes: the base branch plus this execution's changes on a head
 * branch, and one pull request for it. While the pull request this resource opened is still open, each
 * execution rebuilds its head branch and updates its title and body; once it is merged or closed, the
 * next execution opens a new one. Never two pull requests for one open proposal: the head branch is
 * recorded in status before the push, and an open pull request for it is looked up before creating one.
 */
import { type PullRequest, type PullRequestStatus, pullRequestStateValues } from '../../api/v1/pullrequest.ts';
import { template } from '../../render/render.ts';
import { strftime } from '../../render/template.ts';
import { commit, commitRequest, resolveDefaultBranch } from '../execution/commit-request.ts';
import type { ExecutionContext, Outcome } from '../execution/executable.ts';
import { ExecutionFailure, permanent } from '../execution/failure.ts';
import { renderExecution } from '../execution/render-execution.ts';
import type { PublishSettings } from '../gitcommit/publish.ts';
import type { PullRequestInfo } from './provider.ts';
import { type ProviderSettings, pullRequestProviderFor } from './providers.ts';

export interface PullRequestSettings extends PublishSettings, ProviderSettings {}

export async function publishPullRequest(
  settings: PullRequestSettings,
  pr: PullRequest,
  ctx: ExecutionContext<PullRequestStatus>,
): Promise<Outcome<PullRequestStatus>> {
  const spec = pr.spec;
  const status = pr.status ?? {};
  const rendered = await renderExecution(settings, pr.metadata.namespace, spec, ctx);
  const provider = pullRequestProviderFor(spec.repository.url, settings);
  const method = rendered.credentials?.method;
  if (method?.case !== 'token') {
    throw permanent(
      'InvalidSecret',
      `spec.auth.secretName: a PullRequest needs a Secret with 'token', which is also its ${provider.name} API token`,
    );
  }
  const title = template(spec.pullRequest.title, ctx.instant, 'spec.pullRequest.title');
  const body = template(spec.pullRequest.body ?? '', ctx.instant, 'spec.pullRequest.body');
  const pullRequests = await provider.connect({
    url: spec.repository.url,
    token: method.value.token,
    labels: spec.pullRequest.labels ?? [],
    signal: ctx.signal,
  });

  const base =
    spec.repository.baseBranch || (await resolveDefaultBranch(settings, spec.repository.url, rendered, ctx.signal));

  // The proposal in progress: this resource's open pull request, or a head branch recorded by an
  // attempt that did not get as far as opening one.
  let open: PullRequestInfo | undefined;
  if (status.pullRequestNumber) {
    const known = await pullRequests.get(status.pullRequestNumber);
    if (known?.state === 'open') open = known;
  }
  if (!open && status.headBranch && !status.pullRequestNumber) open = await pullRequests.findOpen(status.headBranch);
  const reuseHead =
    open?.headBranch ?? (status.headBranch && !status.pullRequestNumber ? status.headBranch : undefined);
  const prefix = spec.pullRequest.branchPrefix ?? 'git-change-operator';
  const head = reuseHead ?? `${prefix}-${strftime('%Y%m%d%H%M%S', ctx.instant)}`;
  if (head !== status.headBranch) {
    await ctx.saveStatus({ headBranch: head, pullRequestNumber: null, pullRequestURL: null, pullRequestState: null });
  }

  let response: Awaited<ReturnType<typeof commit>>;
  try {
    response = await commit(
      settings,
      commitRequest(
        { kind: 'PullRequest', namespace: pr.metadata.namespace, name: pr.metadata.name },
        ctx.execution.id,
        spec.repository.url,
        rendered,
        {
          branch: head,
          baseBranch: base,
          rebuildFromBase: true,
          // A name made now must not replace a branch someone else made under it: two PullRequests with
          // one branchPrefix on one repository, executing in the same second, would otherwise share a head.
          newBranch: reuseHead === undefined,
          defaultMessage: title,
        },
      ),
      ctx.signal,
    );
  } catch (error) {
    if (error instanceof ExecutionFailure && error.reason === 'BranchExists') {
      throw permanent(
        'BranchExists',
        `head branch ${head} exists already with another execution's commit (another PullRequest with branchPrefix '${prefix}' on this repository, in the same second?); it was left as it is. Give each PullRequest its own spec.pullRequest.branchPrefix; the next execution makes a new name`,
      );
    }
    throw error;
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
    ? await pullRequests.update(open, { title, body })
    : await pullRequests.create({ base, head, title, body, draft: spec.pullRequest.draft ?? false });
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
      pullRequestState: pullRequestStateValues[result.state],
    },
  };
}
