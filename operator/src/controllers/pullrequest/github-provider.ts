/** GitHub (github.com and GitHub Enterprise Server) as a pull-request provider, through its GraphQL API. */
import { coordinatesOf, GitHubClient, type PullRequestNode } from './github.ts';
import type { PullRequestInfo, PullRequestProvider, PullRequestState, PullRequests } from './provider.ts';

const states: Record<PullRequestNode['state'], PullRequestState> = { OPEN: 'open', CLOSED: 'closed', MERGED: 'merged' };

function info(node: PullRequestNode): PullRequestInfo {
  return { id: node.id, number: node.number, url: node.url, state: states[node.state], headBranch: node.headRefName };
}

/** `apiUrl` overrides the endpoint that follows the repository's host (--github-api-url). */
export function gitHubProvider(apiUrl?: string): PullRequestProvider {
  return {
    name: 'GitHub',
    async connect({ url, token, labels, signal }): Promise<PullRequests> {
      const github = new GitHubClient(coordinatesOf(url, apiUrl), token, signal);
      const repositoryId = await github.repositoryId();
      const labelIds = await github.labelIds([...labels]);
      const labelled = async (node: PullRequestNode) => {
        await github.addLabels(node.id, labelIds);
        return info(node);
      };
      return {
        get: async (number) => {
          const node = await github.pullRequest(number);
          return node ? info(node) : undefined;
        },
        findOpen: async (head) => {
          const node = await github.openPullRequestFor(head);
          return node ? info(node) : undefined;
        },
        create: async (input) => labelled(await github.create({ repositoryId, ...input })),
        update: async (pullRequest, { title, body }) => labelled(await github.update(pullRequest.id, title, body)),
      };
    },
  };
}
