/** The GitCommit controller: executions that publish one commit each. */
import type { GitCommit } from '../../api/v1/types.ts';
import type { ResourceType } from '../../runtime/resources.ts';
import { type ExecutionControllerOptions, executionController } from '../execution/controller.ts';
import type { Executable } from '../execution/engine.ts';
import { type PublishSettings, publishCommit } from './publish.ts';

export const gitCommitType: ResourceType = {
  group: 'gco.galos.one',
  version: 'v1',
  kind: 'GitCommit',
  plural: 'gitcommits',
  namespaced: true,
};

export type GitCommitObject = GitCommit & Executable & { spec: GitCommit['spec'] };

export function gitCommitController(
  opts: Omit<ExecutionControllerOptions<GitCommitObject>, 'name' | 'type' | 'publish' | 'phases'> & {
    settings: PublishSettings;
  },
) {
  return executionController<GitCommitObject>({
    ...opts,
    name: 'gitcommit',
    type: gitCommitType,
    publish: (gc, ctx) => publishCommit(opts.settings, gc, ctx),
    phases: { running: 'Running', failed: 'Failed' },
  });
}
