import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createBareRepository, GitHttpServer, GitHubStandIn, runOk, tempDir } from '../src/index.ts';

describe('GitHub stand-in', function () {
  this.timeout(60_000);
  let git: GitHttpServer;
  let github: GitHubStandIn;
  let root: string;

  before(async () => {
    root = await tempDir();
    const gitDir = join(root, 'repos/acme/app.git');
    await createBareRepository(gitDir, { files: 3 });
    // A real head branch with one commit on top of main.
    const tree = (await runOk('git', ['--git-dir', gitDir, 'rev-parse', 'main^{tree}'])).trim();
    const main = (await runOk('git', ['--git-dir', gitDir, 'rev-parse', 'main'])).trim();
    const blob = (await runOk('git', ['--git-dir', gitDir, 'hash-object', '-w', '--stdin'], { input: 'new\n' })).trim();
    const newTree = (
      await runOk('git', ['--git-dir', gitDir, 'mktree'], {
        input: `${(await runOk('git', ['--git-dir', gitDir, 'ls-tree', tree])).trim()}\n100644 blob ${blob}\tnew.txt\n`,
      })
    ).trim();
    const commit = (
      await runOk('git', [
        '--git-dir',
        gitDir,
        '-c',
        'user.name=T',
        '-c',
        'user.email=t@x',
        'commit-tree',
        newTree,
        '-p',
        main,
        '-m',
        'head',
      ])
    ).trim();
    await runOk('git', ['--git-dir', gitDir, 'update-ref', 'refs/heads/feature', commit]);
    git = await new GitHttpServer({ root: join(root, 'repos') }).start();
    github = new GitHubStandIn(git, { tokens: { good: ['repo'], readonly: ['read:org'] }, labels: ['sync'] });
  });
  after(() => git.stop());

  const call = async (token: string, query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(github.graphqlUrl, {
      method: 'POST',
      headers: { authorization: `bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  };

  it('checks the token like GitHub', async () => {
    const res = await call('nope', '{ viewer { login } }');
    assert.equal(res.status, 401);
    assert.equal(res.body.message, 'Bad credentials');
  });

  it("validates against GitHub's published schema", async () => {
    const unknown = await call('good', '{ repository(owner: "acme", name: "app") { id noSuchField } }');
    assert.match(unknown.body.errors[0].message, /Cannot query field "noSuchField" on type "Repository"/);
    const wrongType = await call('good', '{ repository(owner: 1, name: "app") { id } }');
    assert.match(wrongType.body.errors[0].message, /String cannot represent a non string value/);
    const missingArg = await call('good', 'mutation { createPullRequest(input: {title: "x"}) { clientMutationId } }');
    assert.match(missingArg.body.errors[0].message, /repositoryId|baseRefName|headRefName/);
  });

  it('opens a pull request only from a real branch, once per head, and merges for real', async () => {
    const repo = await call('good', 'query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }', {
      o: 'acme',
      n: 'app',
    });
    const repositoryId = repo.body.data.repository.id;
    const create = (head: string) =>
      call(
        'good',
        'mutation($i: CreatePullRequestInput!) { createPullRequest(input: $i) { pullRequest { id number state url isDraft } } }',
        {
          i: { repositoryId, baseRefName: 'main', headRefName: head, title: 'Sync', draft: true },
        },
      );
    const missing = await create('no-such-branch');
    assert.match(missing.body.errors[0].message, /Head sha can't be blank/);
    const opened = await create('feature');
    assert.equal(opened.body.data.createPullRequest.pullRequest.state, 'OPEN');
    assert.equal(opened.body.data.createPullRequest.pullRequest.isDraft, true);
    const again = await create('feature');
    assert.match(again.body.errors[0].message, /A pull request already exists for acme:feature/);
    const readonly = await call('readonly', '{ repository(owner: "acme", name: "app") { id } }');
    assert.equal(readonly.body.errors[0].type, 'NOT_FOUND');
    const merged = await github.merge(opened.body.data.createPullRequest.pullRequest.number);
    const log = await runOk('git', [
      '--git-dir',
      join(root, 'repos/acme/app.git'),
      'log',
      '-1',
      '--format=%H %P',
      'main',
    ]);
    assert.equal(log.split(' ')[0], merged);
    assert.equal(log.trim().split(' ').length, 3, 'a merge commit with two parents');
    assert.equal(await runOk('git', ['--git-dir', join(root, 'repos/acme/app.git'), 'show', 'main:new.txt']), 'new\n');
  });

  it('answers RATE_LIMITED with the reset time when the limit is exhausted', async () => {
    github.rateLimitedUntil = Math.floor(Date.now() / 1000) + 30;
    const res = await call('good', '{ viewer { login } }');
    github.rateLimitedUntil = undefined;
    assert.equal(res.body.errors[0].type, 'RATE_LIMITED');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
    assert.ok(Number(res.headers.get('x-ratelimit-reset')) > Date.now() / 1000);
  });
});
