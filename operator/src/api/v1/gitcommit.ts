/** GitCommit as the operator knows it: its names, phases and type. Its schema is schema/gitcommit.ts. */
import type { apiVersion, KindDefinition, ObjectMeta } from './meta.ts';
import type { GitCommitSpec, GitCommitStatus } from './schema/gitcommit.ts';

export type { GitCommitSpec, GitCommitStatus } from './schema/gitcommit.ts';

export const gitCommitPhases = {
  pending: 'Pending',
  running: 'Running',
  succeeded: 'Committed',
  failed: 'Failed',
} as const;

export interface GitCommit {
  apiVersion: typeof apiVersion;
  kind: 'GitCommit';
  metadata: ObjectMeta;
  spec: GitCommitSpec;
  status?: GitCommitStatus;
}

export const gitCommitDefinition: KindDefinition = {
  kind: 'GitCommit',
  plural: 'gitcommits',
  singular: 'gitcommit',
  shortNames: ['gcommit'],
  categories: ['gco'],
};
