/** The PullRequest controller: executions that publish a head branch and one pull request. */
import type { PullRequest } from '../../api/v1/types.ts';
import type { ResourceType } from '../../runtime/resources.ts';
import { type ExecutionControllerOptions, executionController } from '../execution/controller.ts';
import type { Executable } from '../execution/engine.ts';
import { asProviderFailure } from './provider-failure.ts';
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
    // The provider boundary: its errors become execution failures naming the token's Secret.
    publish: (pr, ctx) =>
      publishPullRequest(opts.settings, pr, ctx).catch((error: unknown) => {
        const secret = pr.spec.auth?.secretName;
        throw asProviderFailure(error, { secret: secret ? `${pr.metadata.namespace}/${secret}` : undefined });
      }),
    phases: { running: 'Running', failed: 'Failed' },
  });
}
