/**
 * PullRequest as the operator knows it: its names, phases, the states it reports and its type. Its
 * schema is schema/pullrequest.ts.
 */
import type { apiVersion, KindDefinition, ObjectMeta } from './meta.ts';
import type { PullRequestSpec, PullRequestStatus } from './schema/pullrequest.ts';

export type { PullRequestSpec, PullRequestStatus } from './schema/pullrequest.ts';

export const pullRequestPhases = {
  pending: 'Pending',
  running: 'Running',
  succeeded: 'Created',
  failed: 'Failed',
} as const;

/**
 * status.pullRequestState, by provider-neutral state. The values are GitHub's words, as the API has
 * shown them since it had one provider; another provider maps its own states onto open, closed, merged.
 */
export const pullRequestStateValues = { open: 'OPEN', closed: 'CLOSED', merged: 'MERGED' } as const;
export type PullRequestState = keyof typeof pullRequestStateValues;

export interface PullRequest {
  apiVersion: typeof apiVersion;
  kind: 'PullRequest';
  metadata: ObjectMeta;
  spec: PullRequestSpec;
  status?: PullRequestStatus;
}

export const pullRequestDefinition: KindDefinition = {
  kind: 'PullRequest',
  plural: 'pullrequests',
  singular: 'pullrequest',
  shortNames: ['gpr'],
  categories: ['gco'],
};
