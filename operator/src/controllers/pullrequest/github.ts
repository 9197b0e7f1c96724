/**
 * GitHub's GraphQL API through @octokit/graphql: the few queries and mutations a PullRequest needs,
 * with GitHub's failures classified as provider errors (what they mean for a resource is decided at the
 * provider boundary, provider-failure.ts). The endpoint follows the
 * repository's host: github.com -> https://api.github.com/graphql, any other host ->
 * <scheme>://<host>/api/graphql (GitHub Enterprise Server), unless --github-api-url overrides it.
 */
import { inSpan } from '@gco/common/telemetry';
import { parseScpLikeUrl } from '@gco/common/validation';
import type { graphql } from '@octokit/graphql';
import { permanent } from '../execution/failure.ts';
import { ProviderError, type ProviderErrorKind } from './provider-error.ts';

type Octokit = typeof import('@octokit/graphql');

/** The module once loaded: what tells GitHub's GraphQL errors apart (gitHubError). */
let octokit: Octokit | undefined;
let loading: Promise<Octokit> | undefined;

/**
 * @octokit/graphql, imported on the first request and kept: an operator with no PullRequest on GitHub
 * never loads it (it and its request stack are resident memory the process would carry for nothing).
 */
function loadOctokit(): Promise<Octokit> {
  loading ??= import('@octokit/graphql').then((module) => {
    octokit = module;
    return module;
  });
  return loading;
}

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
  private readonly call: () => Promise<typeof graphql>;
  private readonly repo: RepositoryCoordinates;

  /** `signal` cancels every request (operator shutdown, lost Lease). */
  constructor(repo: RepositoryCoordinates, token: string, signal?: AbortSignal) {
    this.repo = repo;
    let call: Promise<typeof graphql> | undefined;
    this.call = () => {
      call ??= loadOctokit().then(({ graphql }) =>
        graphql.defaults({
          baseUrl: repo.apiBaseUrl,
          headers: { authorization: `bearer ${token}` },
          request: { signal },
        }),
      );
      return call;
    };
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
        const call = await this.call();
        return await call<T>(query, variables);
      } catch (error) {
        throw gitHubError(error, this.repo);
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

  /** Label ids by name; throws label-not-found naming the labels the repository lacks. */
  async labelIds(names: string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const data = await this.request<{ repository: { labels: { nodes: Array<{ id: string; name: string }> } } }>(
      'query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { labels(first: 100) { nodes { id name } } } }',
      { owner: this.repo.owner, name: this.repo.name },
    );
    const byName = new Map(data.repository.labels.nodes.map((l) => [l.name, l.id]));
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      throw new ProviderError(
        'label-not-found',
        {
          provider: 'GitHub',
          endpoint: new URL(this.repo.apiBaseUrl).host,
          repository: `${this.repo.owner}/${this.repo.name}`,
        },
        `no label ${missing.map((m) => `'${m}'`).join(', ')}`,
        { labels: missing },
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

/** How long until a rate limit resets: `retry-after` (seconds) or `x-ratelimit-reset` (epoch seconds). */
function retryAfterMs(headers: unknown): number | undefined {
  const after = Number(header(headers, 'retry-after') ?? Number.NaN);
  if (after > 0) return after * 1000;
  const reset = Number(header(headers, 'x-ratelimit-reset') ?? 0) * 1000;
  return reset ? Math.max(1000, reset - Date.now()) : undefined;
}

/**
 * GitHub's failures, classified: GraphQL errors by their `type`, HTTP ones by status (403 is a rate
 * limit when GitHub says so, as its secondary limits do, else a permission), network failures (which
 * octokit reports as status 500) and 5xx as unavailable; what octokit did not even answer with a status
 * is internal. A GraphqlResponseError comes only from a request made through the loaded module, so the
 * class is the loaded module's (`octokit`), and nothing is one while it is not loaded.
 */
export function gitHubError(error: unknown, repo: RepositoryCoordinates): ProviderError {
  const where = {
    provider: 'GitHub',
    endpoint: new URL(repo.apiBaseUrl).host,
    repository: `${repo.owner}/${repo.name}`,
  };
  const make = (kind: ProviderErrorKind, detail: string, options: { status?: number; retryAfterMs?: number } = {}) =>
    new ProviderError(kind, where, detail, { cause: error, ...options });
  if (octokit && error instanceof octokit.GraphqlResponseError) {
    const first = error.errors?.[0] as { type?: string; message?: string } | undefined;
    const detail = first?.message ?? error.message;
    switch (first?.type) {
      case 'RATE_LIMITED':
        return make('rate-limited', detail, { retryAfterMs: retryAfterMs(error.headers) ?? 60_000 });
      case 'INSUFFICIENT_SCOPES':
      case 'FORBIDDEN':
        return make('forbidden', detail);
      case 'NOT_FOUND':
        return make('not-found', detail);
      case undefined:
        // GitHub's own hiccup has no type; a query the schema refuses has none either, and is our bug.
        return /Something went wrong while executing your query/i.test(detail)
          ? make('unavailable', detail)
          : make('internal', detail);
      default:
        return make('validation', detail);
    }
  }
  const status = (error as { status?: unknown }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof status !== 'number') return make('internal', message);
  const headers = (error as { response?: { headers?: unknown } }).response?.headers;
  const detail = `${status} ${message}`;
  if (status === 401) return make('authentication', detail, { status });
  const limited =
    status === 429 ||
    (status === 403 &&
      (header(headers, 'x-ratelimit-remaining') === '0' ||
        header(headers, 'retry-after') !== undefined ||
        /rate limit/i.test(message)));
  if (limited) return make('rate-limited', detail, { status, retryAfterMs: retryAfterMs(headers) ?? 60_000 });
  if (status === 403) return make('forbidden', detail, { status });
  if (status === 404) return make('not-found', message, { status });
  // 400: GitHub could not read what the client sent, which the client should never do.
  if (status === 400) return make('internal', detail, { status });
  if (status >= 500) return make('unavailable', detail, { status });
  return make('validation', detail, { status });
}
