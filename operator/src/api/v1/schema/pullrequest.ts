/** PullRequest's schema: literal files and live objects, proposed on a head branch through a pull request. */
import Type, { type Static } from 'typebox';
import { limits } from '../limits.ts';
import { pullRequestDefinition, pullRequestPhases, pullRequestStateValues } from '../pullrequest.ts';
import { phaseNames } from '../status.ts';
import { StringEnum, validations } from './builders.ts';
import type { KindSchema } from './kind.ts';
import { leadingColumns, phaseColumn, trailingColumns } from './printer-columns.ts';
import { BranchName, Commit, repositoryUrl, specFields, specRules } from './spec.ts';
import { executionStatusFields } from './status.ts';
import { branchRules } from './validation.ts';

const PullRequestRepository = Type.Object(
  {
    url: repositoryUrl,
    baseBranch: Type.Optional(
      BranchName("Base branch of the pull request. Default: the remote's default branch (its HEAD)."),
    ),
  },
  { description: 'The git repository to write to.' },
);

const PullRequestFields = Type.Object(
  {
    title: Type.String({ description: 'Title of the pull request. Templated.', minLength: 1, maxLength: 256 }),
    body: Type.Optional(
      Type.String({ description: 'Body of the pull request, Markdown. Templated.', maxLength: limits.message }),
    ),
    branchPrefix: Type.Optional(
      Type.String({
        description:
          "Prefix of the head branch, which is '<branchPrefix>-<YYYYMMDDhhmmss>' (UTC, the execution instant).",
        default: 'git-change-operator',
        minLength: 1,
        maxLength: 200,
        ...validations(branchRules),
      }),
    ),
    draft: Type.Optional(Type.Boolean({ description: 'Open the pull request as a draft.', default: false })),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: limits.label }), {
        description: 'Labels to add to the pull request. They must exist in the repository.',
        maxItems: limits.labels,
        'x-kubernetes-list-type': 'set',
      }),
    ),
  },
  { description: 'The pull request to open or update.' },
);

export const PullRequestSpec = Type.Object(
  {
    ...specFields(PullRequestRepository, Type.Optional(Commit('defaults to the title'))),
    pullRequest: PullRequestFields,
  },
  { description: 'What to propose, and where.', ...validations(specRules) },
);

export const PullRequestStatus = Type.Object(
  {
    ...executionStatusFields(phaseNames(pullRequestPhases)),
    headBranch: Type.Optional(
      Type.String({ description: 'Head branch of the current proposal, recorded before it is pushed.' }),
    ),
    pullRequestNumber: Type.Optional(Type.Integer({ description: 'Number of the pull request.' })),
    pullRequestURL: Type.Optional(Type.String({ description: 'URL of the pull request.' })),
    pullRequestState: Type.Optional(
      StringEnum(Object.values(pullRequestStateValues), { description: 'State of the pull request on GitHub.' }),
    ),
  },
  { description: 'Observed state.' },
);

export type PullRequestSpec = Static<typeof PullRequestSpec>;
export type PullRequestStatus = Static<typeof PullRequestStatus>;

export const pullRequestSchema: KindSchema = {
  ...pullRequestDefinition,
  description:
    'PullRequest renders literal files and live cluster objects into files, pushes them to a head branch and opens ' +
    '(or updates) a GitHub pull request against the base branch.',
  spec: PullRequestSpec,
  status: PullRequestStatus,
  printerColumns: [
    ...leadingColumns,
    {
      name: 'Base',
      type: 'string',
      jsonPath: '.spec.repository.baseBranch',
      description: 'Base branch.',
      priority: 1,
    },
    phaseColumn(pullRequestPhases),
    { name: 'PR', type: 'integer', jsonPath: '.status.pullRequestNumber', description: 'Pull request number.' },
    { name: 'URL', type: 'string', jsonPath: '.status.pullRequestURL', description: 'Pull request URL.' },
    ...trailingColumns,
  ],
};
