import assert from 'node:assert/strict';
import { fileAt, headOf, runOk, waitFor } from '@gco/testenv';
import { strftime } from '../../src/render/template.ts';
import {
  condition,
  type Environment,
  getStatus,
  publicOnlyToken,
  requestReconcile,
  stalledWith,
  startEnvironment,
  token,
  tokenSecret,
  waitReady,
  waitStatus,
} from '../support.ts';

const ops = 'git-change-operator-system';
const ns = 'pr-behaviour';

describe('PullRequest controller', function () {
  this.timeout(300_000);
  let env: Environment;
  let n = 0;

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    await env.plane.ensureNamespace('production');
    await env.plane.ensureNamespace(ns);
    await env.apply(tokenSecret('github-token', ops));
    await env.apply(tokenSecret('github-token', ns));
  });
  after(() => env?.stop());

  it('updates the open pull request: same number, new head commit, new title; then a new one after merge', async () => {
    const repo = await env.repository(`company/update-${n++}.git`, { files: 2 });
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { level: 'info' },
    });
    const name = 'updates';
    const spec = (title: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: repo.url },
        auth: { secretName: 'github-token' },
        pullRequest: { title, body: 'from $(date +%Y)', branchPrefix: 'settings' },
        resourceReferences: [
          { name: 'settings', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'fields', output: { path: 'settings/' } },
        ],
      },
    });
    await env.apply(spec('Settings v1'));
    await waitReady(env, 'pullrequest', name, ns);
    const first = await getStatus(env, 'pullrequest', name, ns);
    const firstHead = await headOf(repo.gitDir, first.headBranch);
    assert.equal(
      env.github.pullRequests.find((p) => p.number === first.pullRequestNumber)?.body,
      `from ${new Date().getUTCFullYear()}`,
    );

    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { level: 'debug' },
    });
    await env.apply(spec('Settings v2'));
    const second = await waitStatus(
      env,
      'pullrequest',
      name,
      (s) => s.observedGeneration === 2 && !s.activeExecution,
      ns,
    );
    assert.equal(second.pullRequestNumber, first.pullRequestNumber, 'the same pull request');
    assert.equal(second.headBranch, first.headBranch);
    assert.equal(condition(second, 'Ready').reason, 'PullRequestUpdated');
    assert.notEqual(await headOf(repo.gitDir, second.headBranch), firstHead, 'a new head commit');
    assert.equal(await fileAt(repo.gitDir, second.headBranch, 'settings/level'), 'debug');
    const stored = env.github.pullRequests.find((p) => p.number === first.pullRequestNumber);
    assert.equal(stored?.title, 'Settings v2');
    assert.equal(
      env.github.pullRequests.filter((p) => p.repo === repo.url.split('/').pop()?.replace('.git', '')).length,
      1,
    );

    // Merged: the next execution opens a new pull request on a new head branch.
    await env.github.merge(first.pullRequestNumber);
    assert.equal(await fileAt(repo.gitDir, 'main', 'settings/level'), 'debug', 'merged for real');
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { level: 'warn' },
    });
    // A head branch is named after its execution's second: the next one must not start in the first one's.
    const firstStarted = Date.parse(first.executionHistory.at(-1).startTime);
    await waitFor(async () => Date.now() >= firstStarted + 1000, {
      timeoutMs: 5000,
      describe: () => 'the clock did not pass the first execution second',
    });
    await requestReconcile(env, 'pullrequest', name, ns, 'after-merge');
    const third = await waitStatus(
      env,
      'pullrequest',
      name,
      (s) => s.lastHandledReconcileAt === 'after-merge' && !s.activeExecution,
      ns,
    );
    assert.notEqual(third.pullRequestNumber, first.pullRequestNumber);
    assert.notEqual(third.headBranch, first.headBranch);
    assert.equal(condition(third, 'Ready').reason, 'PullRequestOpened');
    assert.equal(await fileAt(repo.gitDir, third.headBranch, 'settings/level'), 'warn');
  });

  it('never opens a second pull request when an execution is retried after opening one', async () => {
    const repo = await env.repository(`company/crash-${n++}.git`, { files: 1 });
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name: 'crashy', namespace: ns },
      spec: {
        repository: { url: repo.url },
        auth: { secretName: 'github-token' },
        pullRequest: { title: 'Crashy' },
        files: [{ path: 'c.txt', content: 'c' }],
      },
    });
    await waitReady(env, 'pullrequest', 'crashy', ns);
    const status = await getStatus(env, 'pullrequest', 'crashy', ns);
    const last = status.executionHistory[0];
    // As if the operator died right after createPullRequest: the head branch is recorded, the pull
    // request number is not, and the execution is still active.
    await env.kubectl([
      'patch',
      'pullrequest',
      'crashy',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          pullRequestNumber: null,
          pullRequestURL: null,
          activeExecution: { id: last.id, trigger: 'Generation', instant: last.startTime, attempts: 1, generation: 1 },
        },
      }),
    ]);
    await env.kubectl(['annotate', '--overwrite', '-n', ns, 'pullrequest/crashy', 'gco.galos.one/nudge=1']);
    const after = await waitStatus(
      env,
      'pullrequest',
      'crashy',
      (s) => !s.activeExecution && s.executionHistory.length === 2,
      ns,
    );
    assert.equal(after.pullRequestNumber, status.pullRequestNumber, 'the same pull request was found and updated');
    assert.equal(env.github.pullRequests.filter((p) => p.headRefName === status.headBranch).length, 1);
  });

  it('makes no branch and no pull request when nothing differs from the base', async () => {
    const repo = await env.repository(`company/same-${n++}.git`, { files: 1, extraFiles: { 'same.txt': 'same' } });
    const before = env.github.pullRequests.length;
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name: 'nothing', namespace: ns },
      spec: {
        repository: { url: repo.url, baseBranch: 'main' },
        auth: { secretName: 'github-token' },
        pullRequest: { title: 'Nothing' },
        files: [{ path: 'same.txt', content: 'same' }],
      },
    });
    await waitReady(env, 'pullrequest', 'nothing', ns);
    const status = await getStatus(env, 'pullrequest', 'nothing', ns);
    assert.equal(condition(status, 'Ready').reason, 'UpToDate');
    assert.equal(env.github.pullRequests.length, before);
    const branches = await runOk('git', ['--git-dir', repo.gitDir, 'branch', '--list']);
    assert.equal(branches.trim(), '* main');
  });

  it('stalls rather than replace a head branch another PullRequest made under the same name', async () => {
    const repo = await env.repository(`company/collide-${n++}.git`, { files: 1 });
    // Another PullRequest with this branchPrefix made its heads in these same seconds: every name this
    // execution can pick (its start, in UTC, within the next minute) exists, holding another commit.
    const other = (
      await runOk('git', ['--git-dir', repo.gitDir, 'commit-tree', 'main^{tree}', '-p', 'main', '-m', 'other work'])
    ).trim();
    const start = Date.now();
    for (let i = 0; i < 60; i++) {
      const name = `shared-prefix-${strftime('%Y%m%d%H%M%S', new Date(start + i * 1000))}`;
      await runOk('git', ['--git-dir', repo.gitDir, 'update-ref', `refs/heads/${name}`, other]);
    }
    const before = env.github.pullRequests.length;
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name: 'collides', namespace: ns },
      spec: {
        repository: { url: repo.url, baseBranch: 'main' },
        auth: { secretName: 'github-token' },
        pullRequest: { title: 'Collides', branchPrefix: 'shared-prefix' },
        files: [{ path: 'mine.txt', content: 'mine\n' }],
      },
    });
    const status = await waitStatus(env, 'pullrequest', 'collides', stalledWith('BranchExists'), ns);
    assert.match(status.message, /branchPrefix 'shared-prefix'/);
    assert.equal(await headOf(repo.gitDir, status.headBranch), other, "the other PullRequest's head is untouched");
    assert.equal(env.github.pullRequests.length, before, 'no pull request opened');
  });

  it('opens drafts with labels, and stalls on a label the repository lacks', async () => {
    const repo = await env.repository(`company/draft-${n++}.git`, { files: 1 });
    const pr = (name: string, labels: string[]) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: repo.url },
        auth: { secretName: 'github-token' },
        pullRequest: { title: name, draft: true, labels, branchPrefix: name },
        files: [{ path: `${name}.txt`, content: name }],
      },
    });
    await env.apply(pr('drafted', ['sync', 'automated']));
    await waitReady(env, 'pullrequest', 'drafted', ns);
    const status = await getStatus(env, 'pullrequest', 'drafted', ns);
    const stored = env.github.pullRequests.find((p) => p.number === status.pullRequestNumber);
    assert.equal(stored?.isDraft, true);
    assert.deepEqual(stored?.labels, ['sync', 'automated']);
    await env.apply(pr('unlabelled', ['no-such-label']));
    const stalled = await waitStatus(env, 'pullrequest', 'unlabelled', stalledWith('LabelNotFound'), ns);
    assert.match(condition(stalled, 'Stalled').message, /no label 'no-such-label'/);
  });

  it('maps GitHub failures: bad token, missing scopes, unknown repository', async () => {
    const repo = await env.repository(`company/errors-${n++}.git`, { files: 1 });
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bad-token', namespace: ns },
      stringData: { token: 'ghp_bad_token_for_github' },
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'public-only', namespace: ns },
      stringData: { token: publicOnlyToken },
    });
    const pr = (name: string, secret: string, url: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url },
        auth: { secretName: secret },
        pullRequest: { title: name },
        files: [{ path: 'x.txt', content: name }],
      },
    });
    await env.apply(pr('bad-token', 'bad-token', repo.url));
    const bad = await waitStatus(env, 'pullrequest', 'bad-token', stalledWith('AuthenticationFailed'), ns);
    const api = new URL(repo.url).host;
    const repoName = repo.url.replace(/^.*\/(company\/[^/]+)\.git$/, '$1');
    // Which host refused which Secret's token, at the provider boundary.
    assert.match(
      condition(bad, 'Stalled').message,
      new RegExp(
        `^${api} \\(GitHub\\) rejected the token of Secret ${ns}/bad-token \\(401 Bad credentials.*\\) for ${repoName}: replace it with a valid token$`,
      ),
    );
    await env.apply(pr('scopes', 'public-only', repo.url));
    const scopes = await waitStatus(env, 'pullrequest', 'scopes', stalledWith('InsufficientScopes'), ns);
    assert.match(
      condition(scopes, 'Stalled').message,
      new RegExp(
        `^GitHub refused the token of Secret ${ns}/public-only access to ${repoName} \\(.*\\): give it the 'repo' scope`,
      ),
    );
    await env.apply(pr('missing', 'github-token', env.git.url('company/does-not-exist.git')));
    const missing = await waitStatus(env, 'pullrequest', 'missing', stalledWith('RepositoryNotFound'), ns);
    assert.match(
      condition(missing, 'Stalled').message,
      new RegExp(
        `^GitHub: Could not resolve to a Repository .*\\(no repository company/does-not-exist, or the token of Secret ${ns}/github-token may not see it\\): check spec\\.repository\\.url`,
      ),
    );
  });

  it('waits for the rate limit to reset, then opens the pull request', async () => {
    const repo = await env.repository(`company/rate-${n++}.git`, { files: 1 });
    env.github.rateLimitedUntil = Math.floor(Date.now() / 1000) + 4;
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name: 'limited', namespace: ns },
      spec: {
        repository: { url: repo.url },
        auth: { secretName: 'github-token' },
        pullRequest: { title: 'Limited' },
        files: [{ path: 'r.txt', content: 'r' }],
      },
    });
    const limited = await waitStatus(
      env,
      'pullrequest',
      'limited',
      (s) => condition(s, 'Ready')?.reason === 'RateLimited',
      ns,
    );
    assert.match(limited.message, /resets at/);
    await waitReady(env, 'pullrequest', 'limited', ns);
    const status = await getStatus(env, 'pullrequest', 'limited', ns);
    assert.equal(status.pullRequestState, 'OPEN');
  });

  it('never puts the token in status, events or logs', async () => {
    // Its own pull request and failures, whatever else ran before it: one opened with the token, one
    // whose token GitHub rejects, one whose token lacks the scope.
    const repo = await env.repository(`company/tokens-${n++}.git`, { files: 1 });
    const rejected = 'ghp_rejected_by_github_never_shown';
    for (const [name, value] of [
      ['rejected-github-token', rejected],
      ['scopeless-github-token', publicOnlyToken],
    ]) {
      await env.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns },
        stringData: { token: value },
      });
    }
    const pr = (name: string, secretName: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'PullRequest',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: repo.url },
        auth: { secretName },
        pullRequest: { title: name, branchPrefix: name },
        files: [{ path: `${name}.txt`, content: name }],
      },
    });
    await env.apply(pr('token-opened', 'github-token'));
    await env.apply(pr('token-rejected', 'rejected-github-token'));
    await env.apply(pr('token-scopeless', 'scopeless-github-token'));
    await waitReady(env, 'pullrequest', 'token-opened', ns);
    await waitStatus(env, 'pullrequest', 'token-rejected', stalledWith('AuthenticationFailed'), ns);
    await waitStatus(env, 'pullrequest', 'token-scopeless', stalledWith('InsufficientScopes'), ns);

    const text = `${await env.kubectl(['get', 'pullrequests', '-A', '-o', 'json'])}${await env.kubectl(['get', 'events', '-A', '-o', 'json'])}${await env.operator.logs()}${await env.sidecar.logs()}`;
    assert.match(text, /AuthenticationFailed/, 'the rejection was reported');
    for (const secret of [token, publicOnlyToken, rejected]) {
      assert.ok(!text.includes(secret), `${secret.slice(0, 6)}… in a status, an Event or a log`);
    }
  });
});
