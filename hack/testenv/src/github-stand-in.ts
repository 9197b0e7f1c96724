/**
 * A stand-in for GitHub's GraphQL API, on the same host as the git smart-HTTP server (as GitHub
 * Enterprise Server serves `/api/graphql` beside its repositories). GitHub itself cannot be reached
 * here, so this is as strict as we can make it:
 *
 * - every query and mutation is parsed and validated against GitHub's published schema
 *   (`@octokit/graphql-schema`) with graphql-js: unknown fields, wrong argument types and missing
 *   required arguments fail here as they fail on GitHub;
 * - tokens are checked (401 `Bad credentials`), and classic-token scopes (`repo`) are enforced;
 * - pull requests live beside the real bare repositories: a head must exist as a real branch, a second
 *   open pull request for the same head is refused as GitHub refuses it, and `merge()` really merges;
 * - errors have GitHub's shapes: `NOT_FOUND`, `INSUFFICIENT_SCOPES`, `RATE_LIMITED` (with the
 *   `x-ratelimit-*` headers), and `UNPROCESSABLE` validation messages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { schema as published } from '@octokit/graphql-schema';
import { buildSchema, execute, GraphQLError, type GraphQLSchema, parse, validate } from 'graphql';
import type { GitHttpServer } from './git-http-server.ts';
import { run, runOk } from './processes.ts';

let schema: GraphQLSchema | undefined;
function githubSchema(): GraphQLSchema {
  schema ??= buildSchema(published.idl, { assumeValidSDL: true });
  return schema;
}

export type PullRequestState = 'OPEN' | 'CLOSED' | 'MERGED';

export interface StoredPullRequest {
  id: string;
  number: number;
  owner: string;
  repo: string;
  title: string;
  body: string;
  isDraft: boolean;
  state: PullRequestState;
  headRefName: string;
  baseRefName: string;
  labels: string[];
  createdBy: string;
}

export interface GitHubStandInOptions {
  /** token -> granted classic scopes */
  tokens: Record<string, string[]>;
  /** Labels that exist in every repository. */
  labels?: string[];
}

class ApiError extends GraphQLError {
  constructor(type: string, message: string) {
    super(message, { extensions: { type } });
  }
}

export class GitHubStandIn {
  readonly pullRequests: StoredPullRequest[] = [];
  /** Every request: operation name, variables, the token's owner. */
  readonly requests: Array<{ query: string; variables: Record<string, unknown>; status: number }> = [];
  /** When set, every call answers RATE_LIMITED until this epoch second. */
  rateLimitedUntil: number | undefined;
  private readonly git: GitHttpServer;
  private readonly opts: GitHubStandInOptions;

  constructor(git: GitHttpServer, opts: GitHubStandInOptions) {
    this.git = git;
    this.opts = opts;
    git.addRoute((req, res) => this.route(req, res));
  }

  get graphqlUrl(): string {
    return `${this.git.baseUrl}/api/graphql`;
  }

  private gitDir(owner: string, repo: string): string {
    return join(this.git.root, owner, `${repo}.git`);
  }

  private async exists(owner: string, repo: string): Promise<boolean> {
    return (await run('git', ['--git-dir', this.gitDir(owner, repo), 'rev-parse', '--git-dir'])).code === 0;
  }

  private async branchTip(owner: string, repo: string, branch: string): Promise<string | undefined> {
    const r = await run('git', [
      '--git-dir',
      this.gitDir(owner, repo),
      'rev-parse',
      '--verify',
      `refs/heads/${branch}^{commit}`,
    ]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/graphql') return false;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let payload: { query?: string; variables?: Record<string, unknown> };
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      send(400, { message: 'Problems parsing JSON' });
      return true;
    }
    const record = (status: number) =>
      this.requests.push({ query: payload.query ?? '', variables: payload.variables ?? {}, status });
    if (req.method !== 'POST') {
      send(404, { message: 'Not Found' });
      return true;
    }
    const auth = req.headers.authorization ?? '';
    const token = /^(?:bearer|token)\s+(\S+)$/i.exec(auth)?.[1];
    const scopes = token ? this.opts.tokens[token] : undefined;
    if (!scopes) {
      record(401);
      send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' });
      return true;
    }
    const rate = { 'x-ratelimit-limit': '5000', 'x-ratelimit-used': '1', 'x-oauth-scopes': scopes.join(', ') };
    if (this.rateLimitedUntil && Date.now() / 1000 < this.rateLimitedUntil) {
      record(200);
      send(
        200,
        { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1.' }] },
        { ...rate, 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(this.rateLimitedUntil) },
      );
      return true;
    }
    let document: ReturnType<typeof parse>;
    try {
      document = parse(payload.query ?? '');
    } catch (error) {
      record(200);
      send(200, { errors: [{ message: (error as Error).message }] }, rate);
      return true;
    }
    const invalid = validate(githubSchema(), document);
    if (invalid.length > 0) {
      record(200);
      send(200, { errors: invalid.map((e) => ({ message: e.message, locations: e.locations })) }, rate);
      return true;
    }
    const result = await execute({
      schema: githubSchema(),
      document,
      variableValues: payload.variables,
      rootValue: this.root(scopes),
    });
    record(200);
    send(
      200,
      {
        ...(result.data !== undefined ? { data: result.data } : {}),
        ...(result.errors
          ? {
              errors: result.errors.map((e) => ({
                type:
                  (e.extensions?.type as string | undefined) ??
                  (e.originalError as GraphQLError | undefined)?.extensions?.type,
                message: e.message,
                path: e.path,
              })),
            }
          : {}),
      },
      { ...rate, 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600) },
    );
    return true;
  }

  private pullRequestNode(pr: StoredPullRequest) {
    return {
      __typename: 'PullRequest',
      id: pr.id,
      number: pr.number,
      url: `${this.git.baseUrl}/${pr.owner}/${pr.repo}/pull/${pr.number}`,
      state: pr.state,
      title: pr.title,
      body: pr.body,
      isDraft: pr.isDraft,
      merged: pr.state === 'MERGED',
      closed: pr.state !== 'OPEN',
      headRefName: pr.headRefName,
      baseRefName: pr.baseRefName,
      headRefOid: () => this.branchTip(pr.owner, pr.repo, pr.headRefName),
      labels: () => ({ nodes: pr.labels.map((name) => ({ id: labelId(name), name })), totalCount: pr.labels.length }),
    };
  }

  private requireScope(scopes: string[], scope: string): void {
    if (!scopes.includes(scope)) {
      throw new ApiError(
        'INSUFFICIENT_SCOPES',
        `Your token has not been granted the required scopes to execute this query. The 'createPullRequest' field requires one of the following scopes: ['${scope}'], but your token has only been granted the: [${scopes.map((s) => `'${s}'`).join(', ')}] scopes.`,
      );
    }
  }

  private byNodeId(id: string): StoredPullRequest {
    const pr = this.pullRequests.find((p) => p.id === id);
    if (!pr) throw new ApiError('NOT_FOUND', `Could not resolve to a node with the global id of '${id}'`);
    return pr;
  }

  private root(scopes: string[]) {
    const labels = this.opts.labels ?? [];
    return {
      viewer: { login: 'gco-bot' },
      repository: async ({ owner, name }: { owner: string; name: string }) => {
        // Private repositories are invisible without a repo scope, as on GitHub.
        if (!(scopes.includes('repo') || scopes.includes('public_repo')) || !(await this.exists(owner, name))) {
          throw new ApiError('NOT_FOUND', `Could not resolve to a Repository with the name '${owner}/${name}'.`);
        }
        return {
          id: repositoryId(owner, name),
          name,
          nameWithOwner: `${owner}/${name}`,
          defaultBranchRef: { name: 'main' },
          pullRequest: ({ number }: { number: number }) => {
            const pr = this.pullRequests.find((p) => p.owner === owner && p.repo === name && p.number === number);
            return pr ? this.pullRequestNode(pr) : null;
          },
          pullRequests: ({
            headRefName,
            states,
            first,
          }: {
            headRefName?: string;
            states?: PullRequestState[];
            first?: number;
          }) => {
            const nodes = this.pullRequests
              .filter((p) => p.owner === owner && p.repo === name)
              .filter((p) => !headRefName || p.headRefName === headRefName)
              .filter((p) => !states || states.includes(p.state))
              .slice(0, first ?? 100)
              .map((p) => this.pullRequestNode(p));
            return { nodes, totalCount: nodes.length };
          },
          labels: ({ first, query }: { first?: number; query?: string }) => {
            const nodes = labels
              .filter((l) => !query || l.includes(query))
              .slice(0, first ?? 100)
              .map((l) => ({ id: labelId(l), name: l }));
            return { nodes, totalCount: nodes.length };
          },
          label: ({ name: label }: { name: string }) =>
            labels.includes(label) ? { id: labelId(label), name: label } : null,
        };
      },
      createPullRequest: async ({ input }: { input: Record<string, any> }) => {
        this.requireScope(scopes, 'repo');
        const [owner, repo] = fromRepositoryId(input.repositoryId);
        if (!owner || !repo || !(await this.exists(owner, repo))) {
          throw new ApiError('NOT_FOUND', `Could not resolve to a node with the global id of '${input.repositoryId}'`);
        }
        const head = await this.branchTip(owner, repo, input.headRefName);
        const base = await this.branchTip(owner, repo, input.baseRefName);
        if (!base) throw new ApiError('UNPROCESSABLE', `Base ref must be a branch`);
        if (!head)
          throw new ApiError(
            'UNPROCESSABLE',
            `Head sha can't be blank, Base sha can't be blank, No commits between ${input.baseRefName} and ${input.headRefName}, Head ref must be a branch`,
          );
        if (head === base)
          throw new ApiError('UNPROCESSABLE', `No commits between ${input.baseRefName} and ${input.headRefName}`);
        if (
          this.pullRequests.some(
            (p) => p.owner === owner && p.repo === repo && p.headRefName === input.headRefName && p.state === 'OPEN',
          )
        ) {
          throw new ApiError('UNPROCESSABLE', `A pull request already exists for ${owner}:${input.headRefName}.`);
        }
        const number = this.pullRequests.length + 1;
        const pr: StoredPullRequest = {
          id: `PR_${Buffer.from(`${owner}/${repo}#${number}`).toString('base64url')}`,
          number,
          owner,
          repo,
          title: input.title,
          body: input.body ?? '',
          isDraft: input.draft ?? false,
          state: 'OPEN',
          headRefName: input.headRefName,
          baseRefName: input.baseRefName,
          labels: [],
          createdBy: 'gco-bot',
        };
        this.pullRequests.push(pr);
        return { pullRequest: this.pullRequestNode(pr), clientMutationId: input.clientMutationId };
      },
      updatePullRequest: ({ input }: { input: Record<string, any> }) => {
        this.requireScope(scopes, 'repo');
        const pr = this.byNodeId(input.pullRequestId);
        if (input.title !== undefined) pr.title = input.title;
        if (input.body !== undefined) pr.body = input.body;
        if (input.state === 'CLOSED') pr.state = 'CLOSED';
        return { pullRequest: this.pullRequestNode(pr), clientMutationId: input.clientMutationId };
      },
      addLabelsToLabelable: ({ input }: { input: { labelableId: string; labelIds: string[] } }) => {
        this.requireScope(scopes, 'repo');
        const pr = this.byNodeId(input.labelableId);
        for (const id of input.labelIds) {
          const name = labels.find((l) => labelId(l) === id);
          if (!name) throw new ApiError('NOT_FOUND', `Could not resolve to a node with the global id of '${id}'`);
          if (!pr.labels.includes(name)) pr.labels.push(name);
        }
        return { labelable: this.pullRequestNode(pr) };
      },
    };
  }

  /** Merges a pull request for real: a merge commit on the base branch, the head's tree merged in. */
  async merge(number: number): Promise<string> {
    const pr = this.pullRequests.find((p) => p.number === number);
    if (pr?.state !== 'OPEN') throw new Error(`pull request #${number} is not open`);
    const gitDir = this.gitDir(pr.owner, pr.repo);
    const head = await this.branchTip(pr.owner, pr.repo, pr.headRefName);
    const base = await this.branchTip(pr.owner, pr.repo, pr.baseRefName);
    if (!head || !base) throw new Error('head or base is gone');
    const tree =
      (await runOk('git', ['--git-dir', gitDir, 'merge-tree', '--write-tree', base, head])).split('\n')[0]?.trim() ??
      '';
    const commit = (
      await runOk('git', [
        '--git-dir',
        gitDir,
        '-c',
        'user.name=GitHub',
        '-c',
        'user.email=noreply@github.com',
        'commit-tree',
        tree,
        '-p',
        base,
        '-p',
        head,
        '-m',
        `Merge pull request #${number} from ${pr.headRefName}`,
      ])
    ).trim();
    await runOk('git', ['--git-dir', gitDir, 'update-ref', `refs/heads/${pr.baseRefName}`, commit, base]);
    pr.state = 'MERGED';
    return commit;
  }

  close(number: number): void {
    const pr = this.pullRequests.find((p) => p.number === number);
    if (pr) pr.state = 'CLOSED';
  }
}

const repositoryId = (owner: string, name: string) => `R_${Buffer.from(`${owner}/${name}`).toString('base64url')}`;
const fromRepositoryId = (id: string) => Buffer.from(String(id).replace(/^R_/, ''), 'base64url').toString().split('/');
const labelId = (name: string) => `LA_${Buffer.from(name).toString('base64url')}`;
