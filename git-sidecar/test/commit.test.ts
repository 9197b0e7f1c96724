import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Failure_Category as Category,
  createSidecarClient,
  failureOf,
  Failure_Reason as Reason,
  type SidecarClient,
} from '@gco/sidecar-api';
import {
  commitCount,
  createBareRepository,
  executionsOn,
  fileAt,
  GitHttpServer,
  generatedFilePath,
  headOf,
  runOk,
  type SidecarProcess,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { basicCredentials, commitRequest, expectFailure, tokenCredentials } from '@gco/testenv/sidecar';

const token = 'ghp_sidecar_test_token_0123456789';

describe('git sidecar: commits over the real socket to a real smart-HTTP server', () => {
  let root: string;
  let server: GitHttpServer;
  let sidecar: SidecarProcess;
  let client: SidecarClient;
  let n = 0;
  const creds = tokenCredentials(token);

  /** A fresh repository on the server with a few files; returns its URL and bare path. */
  async function repository(shape: Parameters<typeof createBareRepository>[1] = { files: 10 }) {
    const name = `repo-${n++}.git`;
    const gitDir = join(root, 'repos', name);
    await createBareRepository(gitDir, shape);
    return { url: server.url(name), gitDir };
  }

  before(async () => {
    root = await tempDir();
    server = await new GitHttpServer({
      root: join(root, 'repos'),
      auth: { tokens: [token], users: { robot: 'p4ssw0rd-robot' } },
    }).start();
    sidecar = await startSidecar();
    client = createSidecarClient({ socketPath: sidecar.socketPath });
  });
  after(async () => {
    await sidecar?.stop();
    await server?.stop();
  });

  it('answers health checks', async () => {
    const health = await client.health({});
    assert.equal(health.serving, true);
  });

  it('overwrites a file with one commit carrying the author, message and trailers', async () => {
    const repo = await repository({ files: 10, extraFiles: { 'config/app.yaml': 'old: true\n' } });
    const before = await commitCount(repo.gitDir, 'main');
    const res = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        id: 'exec-overwrite-1',
        message: 'Sync configuration',
        ops: [
          { path: 'config/app.yaml', content: 'new: true\n' },
          { path: 'clusters/prod/info.yaml', content: 'name: prod\n' },
        ],
      }),
    );
    assert.equal(res.changed, true);
    assert.equal(res.pushed, true);
    assert.equal(res.attempts, 1);
    assert.equal(res.branch, 'main');
    assert.equal(res.commitSha, await headOf(repo.gitDir, 'main'));
    assert.equal(await commitCount(repo.gitDir, 'main'), before + 1);
    assert.equal(await fileAt(repo.gitDir, 'main', 'config/app.yaml'), 'new: true\n');
    assert.equal(await fileAt(repo.gitDir, 'main', 'clusters/prod/info.yaml'), 'name: prod\n');
    // The untouched generated files are still there.
    const files = await runOk('git', ['--git-dir', repo.gitDir, 'ls-tree', '-r', '--name-only', 'main']);
    assert.equal(files.trim().split('\n').length, 12);
    const meta = await runOk('git', [
      '--git-dir',
      repo.gitDir,
      'log',
      '-1',
      '--format=%an <%ae>%n%cn <%ce>%n%B',
      'main',
    ]);
    assert.equal(
      meta.trim(),
      'Sidecar Test <sidecar@example.com>\nSidecar Test <sidecar@example.com>\nSync configuration\n\n' +
        'Gco-Source: GitCommit/tests/sidecar\nGco-Execution: exec-overwrite-1',
    );
    assert.ok(res.timings && res.timings.totalMs >= res.timings.pushMs);
  });

  it('makes no commit when the tree does not change', async () => {
    const repo = await repository({ files: 3, extraFiles: { 'same.txt': 'same\n' } });
    const head = await headOf(repo.gitDir, 'main');
    const res = await client.commit(
      commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'same.txt', content: 'same\n' }] }),
    );
    assert.equal(res.changed, false);
    assert.equal(res.pushed, false);
    assert.equal(res.commitSha, head);
    assert.equal(await headOf(repo.gitDir, 'main'), head);
  });

  it('appends, adding a missing newline first and a --- separator for YAML documents', async () => {
    const repo = await repository({ files: 2, extraFiles: { 'log.txt': 'line 1' } });
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [
          { path: 'log.txt', content: 'line 2\n', mode: 'append' },
          { path: 'log.txt', content: 'line 3\n', mode: 'append' },
          { path: 'dumps.yaml', content: 'a: 1\n', mode: 'append', yaml: true },
        ],
      }),
    );
    assert.equal(await fileAt(repo.gitDir, 'main', 'log.txt'), 'line 1\nline 2\nline 3\n');
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [{ path: 'dumps.yaml', content: 'b: 2\n', mode: 'append', yaml: true }],
      }),
    );
    assert.equal(await fileAt(repo.gitDir, 'main', 'dumps.yaml'), '---\na: 1\n---\nb: 2\n');
  });

  it('appends onto the file as another writer left it meanwhile', async () => {
    const repo = await repository({ files: 2, extraFiles: { 'report.log': 'first\n' } });
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [{ path: 'report.log', content: 'ours 1\n', mode: 'append' }],
      }),
    );
    // Someone else changes the same file directly in the repository.
    const other = join(root, `other-${n++}`);
    const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
    const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`x:${token}`).toString('base64')}`];
    await runOk('git', [...auth, 'clone', '-q', repo.url, other], { env });
    await runOk('sh', ['-c', `printf 'theirs\\n' >> ${other}/report.log`]);
    await runOk('git', [
      '-C',
      other,
      '-c',
      'user.name=O',
      '-c',
      'user.email=o@example.com',
      'commit',
      '-qam',
      'theirs',
    ]);
    await runOk('git', ['-C', other, ...auth, 'push', '-q', 'origin', 'HEAD:main'], { env });
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [{ path: 'report.log', content: 'ours 2\n', mode: 'append' }],
      }),
    );
    assert.equal(await fileAt(repo.gitDir, 'main', 'report.log'), 'first\nours 1\ntheirs\nours 2\n');
  });

  it('corrects drift: the same content again after someone else changed the file is committed', async () => {
    const repo = await repository({ files: 2, extraFiles: { 'drift.yaml': 'v: 1\n' } });
    await client.commit(
      commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'drift.yaml', content: 'v: 2\n' }] }),
    );
    // Someone sets it back behind the sidecar's back.
    const other = join(root, `drift-${n++}`);
    const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
    const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`x:${token}`).toString('base64')}`];
    await runOk('git', [...auth, 'clone', '-q', repo.url, other], { env });
    await runOk('sh', ['-c', `printf 'v: 9\\n' > ${other}/drift.yaml`]);
    await runOk('git', ['-C', other, '-c', 'user.name=O', '-c', 'user.email=o@example.com', 'commit', '-qam', 'drift']);
    await runOk('git', ['-C', other, ...auth, 'push', '-q', 'origin', 'HEAD:main'], { env });
    // Rendering the same content as last time must not be judged "unchanged" on the stale tip.
    const res = await client.commit(
      commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'drift.yaml', content: 'v: 2\n' }] }),
    );
    assert.equal(res.changed, true);
    assert.equal(await fileAt(repo.gitDir, 'main', 'drift.yaml'), 'v: 2\n');
  });

  it('deletes files, and deleting a missing file is not an error', async () => {
    const repo = await repository({ files: 2, extraFiles: { 'old/a.txt': 'a', 'old/b.txt': 'b' } });
    const res = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [
          { path: 'old/a.txt', mode: 'delete' },
          { path: 'old/b.txt', mode: 'delete' },
          { path: 'never/there.txt', mode: 'delete' },
        ],
      }),
    );
    assert.equal(res.changed, true);
    assert.equal(await fileAt(repo.gitDir, 'main', 'old/a.txt'), undefined);
    const tree = await runOk('git', ['--git-dir', repo.gitDir, 'ls-tree', '--name-only', 'main']);
    assert.ok(!tree.split('\n').includes('old'), 'an emptied directory disappears');
  });

  it('creates a missing branch from the default branch', async () => {
    const repo = await repository({ files: 4, extraFiles: { 'base.txt': 'base\n' } });
    const res = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'backups/production',
        ops: [{ path: 'b.txt', content: 'b\n' }],
      }),
    );
    assert.equal(res.createdBranch, true);
    assert.equal(res.branch, 'backups/production');
    assert.equal(await fileAt(repo.gitDir, 'backups/production', 'base.txt'), 'base\n');
    assert.equal(await fileAt(repo.gitDir, 'backups/production', 'b.txt'), 'b\n');
    const parent = await runOk('git', ['--git-dir', repo.gitDir, 'rev-parse', 'refs/heads/backups/production~1']);
    assert.equal(parent.trim(), await headOf(repo.gitDir, 'main'));
  });

  it('creates a branch from an explicit base branch', async () => {
    const repo = await repository({ files: 2 });
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'develop',
        ops: [{ path: 'dev.txt', content: 'dev\n' }],
      }),
    );
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'feature',
        baseBranch: 'develop',
        ops: [{ path: 'f.txt', content: 'f\n' }],
      }),
    );
    assert.equal(await fileAt(repo.gitDir, 'feature', 'dev.txt'), 'dev\n');
    await expectFailure(
      client.commit(
        commitRequest({
          url: repo.url,
          credentials: creds,
          branch: 'x',
          baseBranch: 'nope',
          ops: [{ path: 'x', content: 'x' }],
        }),
      ),
      Reason.BRANCH_NOT_FOUND,
    );
  });

  it('makes the first commit of an empty repository', async () => {
    const repo = await repository({ files: 0 });
    const resolved = await client.resolveDefaultBranch({ repository: { url: repo.url, credentials: creds } });
    assert.equal(resolved.empty, true);
    const res = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: '',
        ops: [{ path: 'README.md', content: '# hello\n' }],
      }),
    );
    assert.equal(res.branch, 'main');
    assert.equal(res.createdBranch, true);
    assert.equal(await fileAt(repo.gitDir, 'main', 'README.md'), '# hello\n');
    assert.equal(await commitCount(repo.gitDir, 'main'), 1);
  });

  it("resolves the remote's default branch and uses it when the job names none", async () => {
    const repo = await repository({ files: 2, branch: 'trunk' });
    const resolved = await client.resolveDefaultBranch({ repository: { url: repo.url, credentials: creds } });
    assert.deepEqual([resolved.branch, resolved.empty], ['trunk', false]);
    const res = await client.commit(
      commitRequest({ url: repo.url, credentials: creds, branch: '', ops: [{ path: 't.txt', content: 't' }] }),
    );
    assert.equal(res.branch, 'trunk');
    assert.equal(await fileAt(repo.gitDir, 'trunk', 't.txt'), 't');
  });

  it('accepts a username and password', async () => {
    const repo = await repository({ files: 1 });
    const res = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: basicCredentials('robot', 'p4ssw0rd-robot'),
        ops: [{ path: 'basic.txt', content: 'ok' }],
      }),
    );
    assert.equal(res.pushed, true);
  });

  it('reports rejected credentials, and missing ones, as AUTHENTICATION_REJECTED', async () => {
    const repo = await repository({ files: 1 });
    const wrong = await expectFailure(
      client.commit(
        commitRequest({
          url: repo.url,
          credentials: tokenCredentials('ghp_wrong_token_zzzz'),
          ops: [{ path: 'x', content: 'x' }],
        }),
      ),
      Reason.AUTHENTICATION_REJECTED,
    );
    assert.ok(!wrong.message.includes('ghp_wrong_token_zzzz'));
    await expectFailure(
      client.commit(commitRequest({ url: repo.url, ops: [{ path: 'x', content: 'x' }] })),
      Reason.AUTHENTICATION_REJECTED,
    );
  });

  it('reports a repository that does not exist as REPOSITORY_NOT_FOUND', async () => {
    await expectFailure(
      client.commit(
        commitRequest({
          url: server.url('missing/nothing.git'),
          credentials: creds,
          ops: [{ path: 'x', content: 'x' }],
        }),
      ),
      Reason.REPOSITORY_NOT_FOUND,
    );
  });

  it('refuses path traversal and .git paths, writing nothing', async () => {
    const repo = await repository({ files: 1 });
    const head = await headOf(repo.gitDir, 'main');
    for (const path of [
      '../escape.txt',
      '/etc/passwd',
      '.git/config',
      'a/.git/hooks/x',
      'A/.GIT/x',
      'a/./b',
      'a//b',
      'dir/',
      'nul\0byte',
      '',
    ]) {
      await expectFailure(
        client.commit(
          commitRequest({
            url: repo.url,
            credentials: creds,
            ops: [
              { path: 'fine.txt', content: 'fine' },
              { path, content: 'x' },
            ],
          }),
        ),
        Reason.INVALID_PATH,
      );
    }
    assert.equal(await headOf(repo.gitDir, 'main'), head, 'nothing was pushed');
  });

  it('refuses branch names that shadow other refs, so no job can block pushes to another branch', async () => {
    const repo = await repository({ files: 1 });
    const refsBefore = await runOk('git', [`--git-dir=${repo.gitDir}`, 'for-each-ref', '--format=%(refname)']);
    for (const [branch, baseBranch] of [
      ['refs/heads/main', ''],
      ['refs/tags/v1', ''],
      ['HEAD', ''],
      ['heads/main', ''],
      ['feature', 'refs/heads/main'],
    ]) {
      await expectFailure(
        client.commit(
          commitRequest({ url: repo.url, credentials: creds, branch, baseBranch, ops: [{ path: 'x', content: 'x' }] }),
        ),
        Reason.INVALID_ARGUMENT,
      );
    }
    const refsAfter = await runOk('git', [`--git-dir=${repo.gitDir}`, 'for-each-ref', '--format=%(refname)']);
    assert.equal(refsAfter, refsBefore, 'no ref was created on the remote');
    // Another writer's commits to main still land.
    const res = await client.commit(
      commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'other-tenant.txt', content: 'ok' }] }),
    );
    assert.equal(res.branch, 'main');
    assert.equal(await fileAt(repo.gitDir, 'main', 'other-tenant.txt'), 'ok');
  });

  it('says how to fix a remote where another ref shadows the target branch, instead of retrying', async () => {
    const repo = await repository({ files: 1 });
    const head = await headOf(repo.gitDir, 'main');
    await runOk('git', [`--git-dir=${repo.gitDir}`, 'update-ref', 'refs/heads/refs/heads/main', head]);
    const error = await expectFailure(
      client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'x', content: 'x' }] })),
      Reason.PUSH_REJECTED,
      /delete it on the remote \(git push <remote> --delete refs\/heads\/refs\/heads\/main\)/,
    );
    assert.equal(failureOf(error)?.category, Category.PERMANENT, 'permanent: no retry can fix it');
    await runOk('git', [`--git-dir=${repo.gitDir}`, 'update-ref', '-d', 'refs/heads/refs/heads/main']);
    await client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'x', content: 'x' }] }));
    assert.equal(await fileAt(repo.gitDir, 'main', 'x'), 'x');
  });

  it('refuses a file where the repository has a directory, and the other way round', async () => {
    const repo = await repository({ files: 1, extraFiles: { 'dir/file.txt': 'x', 'plain.txt': 'y' } });
    await expectFailure(
      client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'dir', content: 'x' }] })),
      Reason.INVALID_PATH,
      /is a directory/,
    );
    await expectFailure(
      client.commit(
        commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'plain.txt/inner', content: 'x' }] }),
      ),
      Reason.INVALID_PATH,
      /is a file/,
    );
  });

  it('refuses content over the size limit', async () => {
    const repo = await repository({ files: 1 });
    const big = 'x'.repeat(10 * 1024 * 1024 + 1);
    await expectFailure(
      client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'big.bin', content: big }] })),
      Reason.INVALID_ARGUMENT,
      /over the limit/,
    );
  });

  it('makes exactly one commit for a retried execution', async () => {
    const repo = await repository({ files: 2 });
    const request = commitRequest({
      url: repo.url,
      credentials: creds,
      id: 'exec-once',
      ops: [{ path: 'once.txt', content: 'a\n', mode: 'append' }],
    });
    const first = await client.commit(request);
    const again = await client.commit(request);
    assert.equal(again.alreadyApplied, true);
    assert.equal(again.changed, false);
    assert.equal(again.commitSha, first.commitSha);
    assert.equal(await fileAt(repo.gitDir, 'main', 'once.txt'), 'a\n');
    assert.deepEqual(
      (await executionsOn(repo.gitDir, 'main')).filter((id) => id === 'exec-once'),
      ['exec-once'],
    );
  });

  it('batches a burst of jobs to one branch into few pushes, one commit each, in order', async () => {
    const repo = await repository({ files: 50 });
    const before = server.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length;
    const ids = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    const results = await Promise.all(
      ids.map((id, i) =>
        client.commit(
          commitRequest({
            url: repo.url,
            credentials: creds,
            id,
            ops: [{ path: `burst/${i}.txt`, content: `${i}\n` }],
          }),
        ),
      ),
    );
    assert.ok(results.every((r) => r.changed && r.pushed));
    assert.deepEqual(await executionsOn(repo.gitDir, 'main'), ids);
    const pushes =
      server.requests.filter((r) => r.service === 'git-receive-pack' && r.method === 'POST').length - before;
    assert.ok(pushes < ids.length / 2, `${pushes} pushes for ${ids.length} jobs`);
    assert.ok(Math.max(...results.map((r) => r.batchSize)) > 1);
  });

  it('rebuilds a branch from its base and forces it (pull-request heads)', async () => {
    const repo = await repository({ files: 2, extraFiles: { 'app.yaml': 'v: 1\n' } });
    const first = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'pr-head',
        rebuildFromBase: true,
        ops: [{ path: 'app.yaml', content: 'v: 2\n' }],
      }),
    );
    assert.equal(first.createdBranch, true);
    const second = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'pr-head',
        rebuildFromBase: true,
        ops: [{ path: 'app.yaml', content: 'v: 3\n' }],
      }),
    );
    // The head is the base plus this execution's change only: one commit on top of main.
    assert.equal(await commitCount(repo.gitDir, 'pr-head'), (await commitCount(repo.gitDir, 'main')) + 1);
    assert.equal(await fileAt(repo.gitDir, 'pr-head', 'app.yaml'), 'v: 3\n');
    assert.equal(second.baseSha, await headOf(repo.gitDir, 'main'));
    const same = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'pr-head-2',
        rebuildFromBase: true,
        ops: [{ path: 'app.yaml', content: 'v: 1\n' }],
      }),
    );
    assert.equal(same.changed, false, 'no change against the base: no branch');
    assert.equal(await fileAt(repo.gitDir, 'pr-head-2', 'app.yaml'), undefined);
  });

  it("never replaces a new head that holds someone else's work; a retry of its own creation is fine", async () => {
    const repo = await repository({ files: 3 });
    const head = (id: string, content: string) =>
      commitRequest({
        url: repo.url,
        credentials: creds,
        branch: 'shared-name-20261126000000',
        rebuildFromBase: true,
        newBranch: true,
        id,
        ops: [{ path: 'app.yaml', content }],
      });
    const created = await client.commit(head('exec-first', 'first\n'));
    assert.equal(created.createdBranch, true);
    const tip = await headOf(repo.gitDir, 'shared-name-20261126000000');
    // The same execution again (a retry after a lost answer): its own commit, reported, not replaced.
    const retried = await client.commit(head('exec-first', 'first\n'));
    assert.deepEqual([retried.alreadyApplied, retried.commitSha], [true, tip]);
    // Another execution that believes the name is new: refused, and the branch is left as it was.
    await expectFailure(client.commit(head('exec-second', 'second\n')), Reason.BRANCH_EXISTS, /already exists/);
    assert.equal(await headOf(repo.gitDir, 'shared-name-20261126000000'), tip);
    assert.equal(await fileAt(repo.gitDir, 'shared-name-20261126000000', 'app.yaml'), 'first\n');
    // Without new_branch (an update of its own head), the branch is rebuilt as before.
    const updated = await client.commit({ ...head('exec-third', 'third\n'), newBranch: false });
    assert.equal(updated.changed, true);
    assert.equal(await fileAt(repo.gitDir, 'shared-name-20261126000000', 'app.yaml'), 'third\n');
  });

  it('keeps the clone blobless: only the blobs a job needs are fetched', async () => {
    const repo = await repository({ files: 500, fileSize: 200, extraFiles: { 'append.log': 'start\n' } });
    await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [{ path: 'append.log', content: 'more\n', mode: 'append' }],
      }),
    );
    const clones = await runOk('ls', [join(sidecar.dataDir, 'clones')]);
    const clone = clones.split('\n').find((c) => c.includes(repo.url.split('/').pop()?.replace('.git', '') ?? '?'));
    assert.ok(clone, clones);
    const blobs = await runOk('git', [
      '--git-dir',
      join(sidecar.dataDir, 'clones', clone),
      'cat-file',
      '--batch-all-objects',
      '--batch-check=%(objecttype)',
    ]);
    const count = blobs.split('\n').filter((t) => t === 'blob').length;
    assert.ok(count <= 3, `${count} blobs in the clone of a 500-file repository`);
    // Overwriting existing files fetches nothing: not the old blobs (no delta search on push), and
    // nothing else, since the branch did not move (no fetch before an optimistic push).
    const fetchesBefore = server.requests.filter((r) => r.service === 'git-upload-pack').length;
    const overwrite = await client.commit(
      commitRequest({
        url: repo.url,
        credentials: creds,
        ops: [1, 2, 3].map((i) => ({ path: generatedFilePath(i), content: `new ${i}\n` })),
      }),
    );
    assert.equal(overwrite.pushed, true);
    assert.equal(server.requests.filter((r) => r.service === 'git-upload-pack').length, fetchesBefore);
  });
});
