/** GitCommit's schema: literal files and live objects, committed to a branch. */
import Type, { type Static } from 'typebox';
import { gitCommitDefinition, gitCommitPhases } from '../gitcommit.ts';
import { phaseNames } from '../status.ts';
import { validations } from './builders.ts';
import type { KindSchema } from './kind.ts';
import { leadingColumns, phaseColumn, trailingColumns } from './printer-columns.ts';
import { BranchName, Commit, repositoryUrl, specFields, specRules } from './spec.ts';
import { executionStatusFields } from './status.ts';

const GitCommitRepository = Type.Object(
  {
    url: repositoryUrl,
    branch: Type.Optional(
      BranchName(
        "Branch to commit to. Default: the remote's default branch (its HEAD). A branch that does not exist " +
          "yet is created from the default branch's tip, or as the first commit of an empty repository.",
      ),
    ),
  },
  { description: 'The git repository to write to.' },
);

export const GitCommitSpec = Type.Object(specFields(GitCommitRepository, Commit('required')), {
  description: 'What to write, and where.',
  ...validations(specRules),
});

export const GitCommitStatus = Type.Object(executionStatusFields(phaseNames(gitCommitPhases)), {
  description: 'Observed state.',
});

export type GitCommitSpec = Static<typeof GitCommitSpec>;
export type GitCommitStatus = Static<typeof GitCommitStatus>;

export const gitCommitSchema: KindSchema = {
  ...gitCommitDefinition,
  description:
    'GitCommit renders literal files and live cluster objects into files and commits them to a git branch: once per ' +
    'spec change, on a schedule, or on request (annotation gco.galos.one/reconcile-requested-at).',
  spec: GitCommitSpec,
  status: GitCommitStatus,
  printerColumns: [
    ...leadingColumns,
    { name: 'Branch', type: 'string', jsonPath: '.status.branch', description: 'Branch written to.' },
    phaseColumn(gitCommitPhases),
    { name: 'Commit', type: 'string', jsonPath: '.status.shortCommitSHA', description: 'Last commit.' },
    ...trailingColumns,
  ],
};
