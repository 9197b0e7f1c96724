/**
 * What a PullRequest needs of a hosting service, whichever it is: find, open and update one pull request
 * for a head branch. States are provider-neutral (open, closed, merged); status shows them as the API
 * spells them (api/v1/pullrequest.ts). GitHub is one implementation (github-provider.ts);
 * providers.ts chooses one for a repository.
 */
import type { PullRequestState } from '../../api/v1/pullrequest.ts';

export type { PullRequestState };

export interface PullRequestInfo {
  /** The provider's id of it, for updates. */
  id: string;
  number: number;
  url: string;
  state: PullRequestState;
  headBranch: string;
}

export interface PullRequestProvider {
  /** The service, as messages name it ("GitHub"). */
  readonly name: string;
  /**
   * The repository's pull requests as `token` sees them, after checking what must hold before anything
   * is pushed: the repository is there, and it has every label (LabelNotFound otherwise).
   */
  connect(input: { url: string; token: string; labels: readonly string[]; signal: AbortSignal }): Promise<PullRequests>;
}

export interface PullRequests {
  /** The pull request with this number, in any state. */
  get(number: number): Promise<PullRequestInfo | undefined>;
  /** An open pull request from this head branch. */
  findOpen(headBranch: string): Promise<PullRequestInfo | undefined>;
  /** Opens one, with the labels. */
  create(input: { base: string; head: string; title: string; body: string; draft: boolean }): Promise<PullRequestInfo>;
  /** Updates an open one's title and body, and adds the labels. */
  update(pullRequest: PullRequestInfo, input: { title: string; body: string }): Promise<PullRequestInfo>;
}
