/** GitCommit as an execution kind: executions that publish one commit each. */
import { type GitCommit, gitCommitDefinition, gitCommitPhases } from '../../api/v1/gitcommit.ts';
import type { ExecutionKind } from '../execution/controller.ts';
import type { Executable } from '../execution/executable.ts';
import { type PublishSettings, publishCommit } from './publish.ts';

export type GitCommitObject = GitCommit & Executable;

export const gitCommits: ExecutionKind<GitCommitObject, PublishSettings> = {
  definition: gitCommitDefinition,
  phases: gitCommitPhases,
  publish: publishCommit,
};
