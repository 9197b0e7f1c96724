/** PullRequest as an execution kind: executions that publish a head branch and one pull request. */
import { type PullRequest, pullRequestDefinition, pullRequestPhases } from '../../api/v1/pullrequest.ts';
import type { ExecutionKind } from '../execution/controller.ts';
import type { Executable } from '../execution/executable.ts';
import { type PullRequestSettings, publishPullRequest } from './publish.ts';

export type PullRequestObject = PullRequest & Executable;

export const pullRequests: ExecutionKind<PullRequestObject, PullRequestSettings> = {
  definition: pullRequestDefinition,
  phases: pullRequestPhases,
  publish: publishPullRequest,
};
