/** The PullRequest controller: executions that publish a head branch and one pull request. */
import type { PullRequest } from '../../api/v1/types.ts';
import type { ResourceType } from '../../runtime/resources.ts';
import { type ExecutionControllerOptions, executionController } from '../execution/controller.ts';
import type { Executable } from '../execution/engine.ts';
import { type PullRequestSettings, publishPullRequest } from './publish.ts';

export const pullRequestType: ResourceType = {
  group: 'gco.galos.one',
  version: 'v1',
  kind: 'PullRequest',
  plural: 'pullrequests',
  namespaced: true,
};

export type PullRequestObject = PullRequest & Executable & { spec: PullRequest['spec'] };

export function pullRequestController(
  opts: Omit<ExecutionControllerOptions<PullRequestObject>, 'name' | 'type' | 'publish' | 'phases'> & {
    settings: PullRequestSettings;
  },
) {
  return executionController<PullRequestObject>({
    ...opts,
    name: 'pullrequest',
    type: pullRequestType,
    publish: (pr, ctx) => publishPullRequest(opts.settings, pr, ctx),
    phases: { running: 'Running', failed: 'Failed' },
  });
}
