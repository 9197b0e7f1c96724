/**
 * The error model's tables, without an API server: the sidecar's reasons as status reasons, what follows
 * a failure of each category, and the pull-request provider's failures classified from what GitHub's
 * client (the real @octokit/graphql, against a local HTTP server) reports.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { Failure_Category as Category, FailureSchema, Failure_Reason as Reason } from '@gco/sidecar-api';
import {
  asExecutionFailure,
  type ExecutionFailure,
  internal,
  internalAttempts,
  permanent,
  transient,
} from '../../src/controllers/execution/failure.ts';
import { afterFailure } from '../../src/controllers/execution/failure-policy.ts';
import type { RetryPolicy } from '../../src/controllers/execution/retry.ts';
import { sidecarFailure, statusReasons } from '../../src/controllers/execution/sidecar-failure.ts';
import { coordinatesOf, GitHubClient } from '../../src/controllers/pullrequest/github.ts';
import { ProviderError, type ProviderErrorKind } from '../../src/controllers/pullrequest/provider-error.ts';
import { asProviderFailure, providerFailure } from '../../src/controllers/pullrequest/provider-failure.ts';
import { ApiError } from '../../src/runtime/kube-client.ts';

const sidecarError = (reason: Reason, category: Category, message: string) =>
  new ConnectError(message, Code.FailedPrecondition, undefined, [
    { desc: FailureSchema, value: create(FailureSchema, { reason, category, message }) },
  ]);

describe('error model: the sidecar failures', () => {
  it('has a status reason for every reason of the sidecar, each its own', () => {
    const reasons = Object.values(Reason).filter((v): v is Reason => typeof v === 'number');
    for (const reason of reasons) assert.ok(statusReasons[reason], `Reason ${Reason[reason]} has a status reason`);
    const named = reasons.filter((r) => r !== Reason.UNSPECIFIED).map((r) => statusReasons[r]);
    assert.equal(new Set(named).size, named.length, 'no two reasons share a status reason');
  });

  it("maps the reason and keeps the sidecar's category and message, deciding nothing", () => {
    const cases: Array<[Reason, Category, string, ExecutionFailure['category']]> = [
      [Reason.AUTHENTICATION_REJECTED, Category.PERMANENT, 'AuthenticationFailed', 'permanent'],
      [Reason.HOST_KEY_REJECTED, Category.PERMANENT, 'HostKeyRejected', 'permanent'],
      [Reason.BRANCH_NOT_FOUND, Category.TRANSIENT, 'BranchNotFound', 'transient'],
      [Reason.CONFLICT_UNRESOLVABLE, Category.TRANSIENT, 'BranchMoved', 'transient'],
      [Reason.PUSH_REJECTED, Category.PERMANENT, 'PushRejected', 'permanent'],
      [Reason.INTERNAL, Category.INTERNAL, 'InternalError', 'internal'],
      // The category is the sidecar's, whatever the reason usually is.
      [Reason.AUTHENTICATION_REJECTED, Category.TRANSIENT, 'AuthenticationFailed', 'transient'],
      [Reason.UNAVAILABLE, Category.PERMANENT, 'GitUnavailable', 'permanent'],
      // A sidecar that says nothing of the category has a bug.
      [Reason.TIMEOUT, Category.UNSPECIFIED, 'Timeout', 'internal'],
      [Reason.UNSPECIFIED, Category.TRANSIENT, 'GitError', 'transient'],
    ];
    for (const [reason, category, status, expected] of cases) {
      const failure = sidecarFailure(sidecarError(reason, category, `words for ${Reason[reason]}`));
      assert.equal(failure.reason, status);
      assert.equal(failure.category, expected, `${Reason[reason]}/${Category[category]}`);
      assert.equal(failure.message, `words for ${Reason[reason]}`);
    }
  });

  it('takes a call the sidecar never answered as transient, and an error of our own as internal', () => {
    for (const code of [Code.Unavailable, Code.Internal, Code.Canceled]) {
      const failure = sidecarFailure(new ConnectError('connect ENOENT /var/run/gco/sidecar.sock', code));
      assert.equal(failure.reason, 'SidecarUnavailable');
      assert.equal(failure.category, 'transient');
      assert.match(failure.message, /^the git sidecar did not answer \(connect ENOENT .*\): is its container running/);
    }
    // The operator's own deadline for the call is a timeout, not a missing sidecar.
    const late = sidecarFailure(new ConnectError('the operation timed out', Code.DeadlineExceeded));
    assert.equal(late.reason, 'Timeout');
    assert.equal(late.category, 'transient');
    assert.match(late.message, /did not finish within --execution-timeout/);
    const bug = sidecarFailure(new TypeError("Cannot read properties of undefined (reading 'branch')"));
    assert.equal(bug.category, 'internal');
    assert.equal(bug.reason, 'InternalError');
    assert.ok(bug.cause instanceof TypeError, 'the cause, for the stack in the log');
  });
});

describe('error model: what follows a failed attempt', () => {
  const byDefault: RetryPolicy = { kind: 'exponential-backoff', maxRetries: undefined };

  it('stalls a permanent failure at once, with its own reason and message', () => {
    assert.deepEqual(afterFailure(permanent('HostKeyRejected', 'offered SHA256:x'), byDefault, 1), {
      stall: { reason: 'HostKeyRejected', message: 'offered SHA256:x' },
    });
  });

  it('retries a transient failure by the policy, and no sooner than its rate limit allows', () => {
    assert.deepEqual(afterFailure(transient('GitUnavailable', 'x'), byDefault, 1), { retryInMs: 5_000 });
    assert.deepEqual(afterFailure(transient('GitUnavailable', 'x'), byDefault, 3), { retryInMs: 20_000 });
    assert.deepEqual(afterFailure(transient('GitUnavailable', 'x'), byDefault, 50), { retryInMs: 600_000 });
    const limited = transient('RateLimited', 'x');
    limited.retryAfterMs = 42_000;
    assert.deepEqual(afterFailure(limited, byDefault, 1), { retryInMs: 42_000 });
    assert.deepEqual(afterFailure(transient('Timeout', 'slow'), { kind: 'fixed', maxRetries: 2 }, 3), {
      stall: {
        reason: 'RetriesExhausted',
        message: 'gave up after 3 attempt(s) (fixed, max-retries 2): Timeout: slow',
      },
    });
  });

  it(`retries an internal failure ${internalAttempts - 1} times at most, then stalls with its own reason`, () => {
    const bug = internal('InternalError', 'the git sidecar failed unexpectedly');
    for (let attempt = 1; attempt < internalAttempts; attempt++) {
      assert.ok('retryInMs' in afterFailure(bug, byDefault, attempt), `attempt ${attempt} is retried`);
    }
    assert.deepEqual(afterFailure(bug, byDefault, internalAttempts), {
      stall: {
        reason: 'InternalError',
        message: `gave up after ${internalAttempts} attempt(s) (internal errors are retried ${internalAttempts - 1} times at most): the git sidecar failed unexpectedly`,
      },
    });
    // A stricter policy of the resource's own still applies.
    assert.deepEqual(afterFailure(bug, { kind: 'none', maxRetries: undefined }, 1), {
      stall: {
        reason: 'InternalError',
        message: 'gave up after 1 attempt(s) (none): the git sidecar failed unexpectedly',
      },
    });
  });

  it('takes any error that is not an ExecutionFailure for a bug of the operator', () => {
    const failure = asExecutionFailure(new RangeError('Invalid time value'));
    assert.equal(failure.category, 'internal');
    assert.equal(failure.reason, 'InternalError');
    assert.match(failure.message, /^the operator failed unexpectedly \(Invalid time value\): this is likely a bug/);
    const known = transient('ResourceNotFound', 'x');
    assert.equal(asExecutionFailure(known), known);
  });

  it("takes the API server's answers and a broken connection to it as transient, not as bugs", () => {
    // A control-plane upgrade must not stall scheduled resources after five attempts.
    for (const error of [
      new ApiError(503, 'ServiceUnavailable', 'PATCH gitcommits/x/status: 503 Service Unavailable'),
      new ApiError(409, 'Conflict', 'the object has been modified'),
      Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    ]) {
      const failure = asExecutionFailure(error);
      assert.equal(failure.category, 'transient', error.message);
      assert.equal(failure.reason, 'APIError');
      assert.match(failure.message, /^the API server: /);
    }
    const coded = Object.assign(new Error('not a socket'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(asExecutionFailure(coded).category, 'internal', "Node's own argument errors are bugs");
  });
});

describe('error model: GitHub failures at the provider boundary', () => {
  let server: ReturnType<typeof createServer>;
  let answer: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  let base = '';

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const reply =
    (status: number, body: unknown, headers: Record<string, string> = {}) =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };

  /** What the real client throws for the answer `a`, classified. */
  async function classified(a: typeof answer, url = `${base}/company/repo.git`): Promise<ProviderError> {
    answer = a;
    const client = new GitHubClient(coordinatesOf(url), 'ghp_provider_unit_token');
    try {
      await client.repositoryId();
    } catch (error) {
      assert.ok(error instanceof ProviderError, `a ProviderError, got ${String(error)}`);
      return error;
    }
    assert.fail('expected the call to fail');
  }

  it('classifies HTTP failures by status; 403 as a rate limit only when GitHub says so', async () => {
    const inMinute = String(Math.floor(Date.now() / 1000) + 60);
    const cases: Array<[typeof answer, ProviderErrorKind, RegExp]> = [
      [reply(401, { message: 'Bad credentials' }), 'authentication', /^401 Bad credentials/],
      [
        reply(
          403,
          { message: 'API rate limit exceeded' },
          { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': inMinute },
        ),
        'rate-limited',
        /^403 /,
      ],
      [
        reply(403, { message: 'You have exceeded a secondary rate limit' }, { 'retry-after': '30' }),
        'rate-limited',
        /secondary rate limit/,
      ],
      [reply(429, { message: 'Too many requests' }), 'rate-limited', /^429 /],
      [reply(403, { message: 'Resource not accessible by integration' }), 'forbidden', /not accessible/],
      [reply(404, { message: 'Not Found' }), 'not-found', /Not Found/],
      [reply(422, { message: 'Validation Failed' }), 'validation', /^422 /],
      [reply(400, { message: 'Problems parsing JSON' }), 'internal', /^400 /],
      [reply(502, 'Bad Gateway'), 'unavailable', /^502 /],
    ];
    for (const [a, kind, words] of cases) {
      const error = await classified(a);
      assert.equal(error.kind, kind, `${error.status} ${error.message}`);
      assert.match(error.message, words);
      assert.equal(error.repository, 'company/repo');
      assert.equal(error.endpoint, new URL(base).host);
    }
    const secondary = await classified(cases[2]?.[0] as typeof answer);
    assert.equal(secondary.retryAfterMs, 30_000);
  });

  it('classifies GraphQL errors by type; a query the schema refuses is a bug', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 120);
    const errors = (e: Record<string, unknown>, headers: Record<string, string> = {}) =>
      reply(200, { data: null, errors: [e] }, headers);
    const cases: Array<[typeof answer, ProviderErrorKind]> = [
      [
        errors({ type: 'NOT_FOUND', message: "Could not resolve to a Repository with the name 'company/repo'." }),
        'not-found',
      ],
      [
        errors({ type: 'INSUFFICIENT_SCOPES', message: 'Your token has not been granted the required scopes' }),
        'forbidden',
      ],
      [errors({ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }), 'forbidden'],
      [
        errors({ type: 'RATE_LIMITED', message: 'API rate limit exceeded' }, { 'x-ratelimit-reset': reset }),
        'rate-limited',
      ],
      [errors({ type: 'UNPROCESSABLE', message: 'A pull request already exists for company:head.' }), 'validation'],
      [errors({ message: "Field 'nope' doesn't exist on type 'Repository'" }), 'internal'],
      [
        errors({ message: 'Something went wrong while executing your query. This may be the result of a timeout.' }),
        'unavailable',
      ],
    ];
    for (const [a, kind] of cases) assert.equal((await classified(a)).kind, kind);
    const limited = await classified(cases[3]?.[0] as typeof answer);
    assert.ok(
      (limited.retryAfterMs ?? 0) > 100_000 && (limited.retryAfterMs ?? 0) <= 120_000,
      `${limited.retryAfterMs}`,
    );
  });

  it('takes a server that cannot be reached as unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await classified(answer, `http://127.0.0.1:${port}/company/repo.git`);
    assert.equal(error.kind, 'unavailable');
    assert.match(error.message, /ECONNREFUSED/);
  });

  it('makes each kind a status reason and a category, naming the Secret the token came from', () => {
    const where = { provider: 'GitHub', endpoint: 'api.github.com', repository: 'company/repo' };
    const ctx = { secret: 'team-a/github-token' };
    const cases: Array<[ProviderErrorKind, string, ExecutionFailure['category'], RegExp]> = [
      [
        'authentication',
        'AuthenticationFailed',
        'permanent',
        /^api\.github\.com \(GitHub\) rejected the token of Secret team-a\/github-token \(401 Bad credentials\) for company\/repo: replace it/,
      ],
      [
        'forbidden',
        'InsufficientScopes',
        'permanent',
        /^GitHub refused the token of Secret team-a\/github-token access to company\/repo .*'repo' scope/,
      ],
      [
        'not-found',
        'RepositoryNotFound',
        'permanent',
        /or the token of Secret team-a\/github-token may not see it\): check spec\.repository\.url/,
      ],
      ['validation', 'GitHubValidationFailed', 'permanent', /^GitHub refused the request for company\/repo: /],
      [
        'rate-limited',
        'RateLimited',
        'transient',
        /the rate limit of the token of Secret team-a\/github-token; it resets at \d{4}-/,
      ],
      [
        'unavailable',
        'GitHubUnavailable',
        'transient',
        /^the GitHub API at api\.github\.com could not be reached, or failed: /,
      ],
      ['internal', 'InternalError', 'internal', /this is likely a bug/],
    ];
    for (const [kind, reason, category, words] of cases) {
      const error = new ProviderError(kind, where, kind === 'authentication' ? '401 Bad credentials' : 'detail', {
        retryAfterMs: kind === 'rate-limited' ? 5_000 : undefined,
      });
      const failure = providerFailure(error, ctx);
      assert.equal(failure.reason, reason, kind);
      assert.equal(failure.category, category, kind);
      assert.match(failure.message, words);
      if (kind === 'rate-limited') assert.equal(failure.retryAfterMs, 5_000);
    }
    const labels = providerFailure(
      new ProviderError('label-not-found', where, 'no label', { labels: ['a', 'b'] }),
      ctx,
    );
    assert.equal(labels.reason, 'LabelNotFound');
    assert.equal(
      labels.message,
      "spec.pullRequest.labels: company/repo has no label 'a', 'b': create it, or remove it from the spec",
    );
    const endpoint = providerFailure(new ProviderError('not-found', where, 'Not Found', { status: 404 }), ctx);
    assert.match(endpoint.message, /^api\.github\.com has no GitHub API \(HTTP 404: Not Found\): .*--github-api-url/);
    const other = permanent('InvalidSpec', 'x');
    assert.equal(asProviderFailure(other, ctx), other, 'not a provider error: as it is');
  });
});
