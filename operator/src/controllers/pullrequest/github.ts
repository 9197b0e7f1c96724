/**
 * GitHub's GraphQL API through @octokit/graphql: the few queries and mutations a PullRequest needs,
 * with GitHub's failures mapped to execution failures (status reasons). The endpoint follows the
 * repository's host: github.com -> https://api.github.com/graphql, any other host ->
 * <scheme>://<host>/api/graphql (GitHub Enterprise Server), unless --github-api-url overrides it.
 */
import { inSpan } from '@gco/common/telemetry';
import { parseScpLikeUrl } from '@gco/common/validation';
import { GraphqlResponseError, graphql } from '@octokit/graphql';
import { type ExecutionFailure, permanent, transient } from '../execution/failure.ts';

export interface RepositoryCoordinates {
  owner: string;
  name: string;
  /** Base URL of the REST API root; @octokit/graphql posts to `${baseUrl}/graphql`. */
  apiBaseUrl: string;
}

export function coordinatesOf(url: string, override?: string): RepositoryCoordinates {
  let host: string;
  let scheme = 'https';
  let path: string;
  const scp = parseScpLikeUrl(url);
  if (scp) {
    host = scp.host;
    path = scp.path;
  } else {
    const parsed = new URL(url);
    host = parsed.host;
    path = parsed.pathname;
    if (parsed.protocol === 'http:') scheme = 'http';
  }
  const parts = path
    .replace(/\.git$/, '')
    .split('/')
    .filter(Boolean);
  if (parts.length < 2)
    throw permanent('InvalidSpec', `spec.repository.url: '${url}' does not name an owner and a repository`);
  const hostname = host.replace(/:\d+$/, '');
  const apiBaseUrl = override ?? (hostname === 'github.com' ? 'https://api.github.com' : `${scheme}://${host}/api`);
  return {
    owner: parts.at(-2) as string,
    name: parts.at(-1) as string,
    apiBaseUrl: apiBaseUrl.replace(/\/graphql$/, '').replace(/\/$/, ''),
  };
}

export interface PullRequestNode {
  id: string;
  number: number;
  url: string;
  state: 'OPEN' | 'CLOSED' | 'MERGED';
  headRefName: string;
}

const prFields = 'id number url state headRefName';

export class GitHubClient {
  private readonly call: typeof graphql;
  private readonly repo: RepositoryCoordinates;

  /** `signal` cancels every request (operator shutdown, lost Lease). */
  constructor(repo: RepositoryCoordinates, token: string, signal?: AbortSignal) {
    this.repo = repo;
    this.call = graphql.defaults({
      baseUrl: repo.apiBaseUrl,
      headers: { authorization: `bearer ${token}` },
      request: { signal },
    });
  }

  private async request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    // The span is named by the operation's first field (repository, createPullRequest…), not its text.
    const operation = /^\s*(query|mutation)\b[^{]*\{\s*(\w+)/.exec(query);
    const attributes = {
      'graphql.operation.type': operation?.[1] ?? 'query',
      'graphql.operation.name': operation?.[2] ?? '',
      'server.address': new URL(this.repo.apiBaseUrl).host,
    };
    return inSpan(`github ${attributes['graphql.operation.name']}`, attributes, async () => {
      try {
        return await this.call<T>(query, variables);
      } catch (error) {
        throw gitHubFailure(error, `${this.repo.owner}/${this.repo.name}`);
      }
    });
  }

  async repositoryId(): Promise<string> {
    const data = await this.request<{ repository: { id: string } }>(
      'query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }',
      { owner: this.repo.owner, name: this.repo.name },
    );
    return data.repository.id;
  }

  async pullRequest(number: number): Promise<PullRequestNode | undefined> {
    const data = await this.request<{ repository: { pullRequest: PullRequestNode | null } }>(
      `query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { ${prFields} } } }`,
      { owner: this.repo.owner, name: this.repo.name, number },
    );
    return data.repository.pullRequest ?? undefined;
  }

  async openPullRequestFor(head: string): Promise<PullRequestNode | undefined> {
    const data = await this.request<{ repository: { pullRequests: { nodes: PullRequestNode[] } } }>(
      `query($owner: String!, $name: String!, $head: String!) { repository(owner: $owner, name: $name) { pullRequests(headRefName: $head, states: [OPEN], first: 1) { nodes { ${prFields} } } } }`,
      { owner: this.repo.owner, name: this.repo.name, head },
    );
    return data.repository.pullRequests.nodes[0];
  }

  /** Label ids by name; throws LabelNotFound naming the labels the repository lacks. */
  async labelIds(names: string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const data = await this.request<{ repository: { labels: { nodes: Array<{ id: string; name: string }> } } }>(
      'query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { labels(first: 100) { nodes { id name } } } }',
      { owner: this.repo.owner, name: this.repo.name },
    );
    const byName = new Map(data.repository.labels.nodes.map((l) => [l.name, l.id]));
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      throw permanent(
        'LabelNotFound',
        `spec.pullRequest.labels: ${this.repo.owner}/${this.repo.name} has no label ${missing.map((m) => `'${m}'`).join(', ')}: create it, or remove it from the spec`,
      );
    }
    return names.map((n) => byName.get(n) as string);
  }

  async create(input: {
    repositoryId: string;
    base: string;
    head: string;
    title: string;
    body: string;
    draft: boolean;
  }): Promise<PullRequestNode> {
    const data = await this.request<{ createPullRequest: { pullRequest: PullRequestNode } }>(
      `mutation($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { ${prFields} } } }`,
      {
        input: {
          repositoryId: input.repositoryId,
          baseRefName: input.base,
          headRefName: input.head,
          title: input.title,
          body: input.body,
          draft: input.draft,
        },
      },
    );
    return data.createPullRequest.pullRequest;
  }

  async update(id: string, title: string, body: string): Promise<PullRequestNode> {
    const data = await this.request<{ updatePullRequest: { pullRequest: PullRequestNode } }>(
      `mutation($input: UpdatePullRequestInput!) { updatePullRequest(input: $input) { pullRequest { ${prFields} } } }`,
      { input: { pullRequestId: id, title, body } },
    );
    return data.updatePullRequest.pullRequest;
  }

  async addLabels(id: string, labelIds: string[]): Promise<void> {
    if (labelIds.length === 0) return;
    await this.request(
      'mutation($input: AddLabelsToLabelableInput!) { addLabelsToLabelable(input: $input) { clientMutationId } }',
      {
        input: { labelableId: id, labelIds },
      },
    );
  }
}

function header(headers: unknown, name: string): string | undefined {
  const h = headers as Record<string, string | undefined> | undefined;
  return h?.[name];
}

export function gitHubFailure(error: unknown, repo: string): ExecutionFailure {
  if (error instanceof GraphqlResponseError) {
    const first = error.errors?.[0] as { type?: string; message?: string } | undefined;
    const message = `GitHub: ${first?.message ?? error.message}`;
    switch (first?.type) {
      case 'RATE_LIMITED': {
        const reset = Number(header(error.headers, 'x-ratelimit-reset') ?? 0) * 1000;
        const failure = transient(
          'RateLimited',
          `${message} (resets at ${new Date(reset || Date.now()).toISOString()})`,
        );
        failure.retryAfterMs = Math.max(1000, reset - Date.now());
        return failure;
      }
      case 'INSUFFICIENT_SCOPES':
      case 'FORBIDDEN':
        return permanent('InsufficientScopes', `${message} (the token in the auth Secret needs the 'repo' scope)`);
      case 'NOT_FOUND':
        return permanent('RepositoryNotFound', `${message} (or the token cannot see ${repo})`);
      default:
        return permanent('GitHubValidationFailed', message);
    }
  }
  const status = (error as { status?: number }).status;
  if (status === 401)
    return permanent(
      'AuthenticationFailed',
      `GitHub rejected the token of the auth Secret (401 Bad credentials) for ${repo}`,
    );
  if (status === 403 || status === 429) {
    const failure = transient('RateLimited', `GitHub answered ${status}: ${(error as Error).message}`);
    const reset =
      Number(header((error as { response?: { headers?: unknown } }).response?.headers, 'x-ratelimit-reset') ?? 0) *
      1000;
    if (reset) failure.retryAfterMs = Math.max(1000, reset - Date.now());
    return failure;
  }
  if (status === 404)
    return permanent('RepositoryNotFound', `GitHub API endpoint not found for ${repo}: ${(error as Error).message}`);
  return transient('GitHubUnavailable', `GitHub API: ${(error as Error).message}`);
}
