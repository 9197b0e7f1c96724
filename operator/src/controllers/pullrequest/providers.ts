/**
 * The one place a repository's pull-request provider is chosen. Every host is GitHub's today:
 * github.com, or GitHub Enterprise Server on its own host (--github-api-url overrides the endpoint). A
 * second provider (GitLab) is chosen here, by the repository's host or by configuration.
 */
import { gitHubProvider } from './github-provider.ts';
import type { PullRequestProvider } from './provider.ts';

export interface ProviderSettings {
  /** GitHub's API endpoint for every repository, instead of the one its host implies. */
  githubApiUrl?: string;
}

export function pullRequestProviderFor(_url: string, settings: ProviderSettings): PullRequestProvider {
  return gitHubProvider(settings.githubApiUrl);
}
