/** PullRequest as an execution kind: executions that publish a head branch and one pull request. */
import { type PullRequest, pullRequestDefinition, pullRequestPhases } from '../../api/v1/pullrequest.ts';
import type { ExecutionKind } from '../execution/controller.ts';
import type { Executable } from '../execution/executable.ts';
import { asProviderFailure } from './provider-failure.ts';
import { type PullRequestSettings, publishPullRequest } from './publish.ts';

export type PullRequestObject = PullRequest & Executable;

export const pullRequests: ExecutionKind<PullRequestObject, PullRequestSettings> = {
  definition: pullRequestDefinition,
  phases: pullRequestPhases,
  // The provider boundary: its errors become execution failures naming the token's Secret.
  publish: (settings, pr, ctx) =>
    publishPullRequest(settings, pr, ctx).catch((error: unknown) => {
      const secret = pr.spec.auth?.secretName;
      throw asProviderFailure(error, { secret: secret ? `${pr.metadata.namespace}/${secret}` : undefined });
    }),
};
