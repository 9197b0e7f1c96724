import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  createBareRepository,
  freePort,
  GitHttpServer,
  generatedFilePath,
  generateSshKey,
  repoRoot,
  run,
  runOk,
  SshGitServer,
  startProcess,
  tempDir,
  waitFor,
} from '../src/index.ts';

const quietGit = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' };

/** Basic credentials for one git command, passed as an extra header through the environment. */
function withBasic(user: string, password: string): NodeJS.ProcessEnv {
  return {
    ...quietGit,
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  };
}

async function commitAndPush(clone: string, env: NodeJS.ProcessEnv, file: string, content: string) {
  await writeFile(join(clone, file), content);
  await runOk('git', ['-C', clone, 'add', file]);
  await runOk('git', [
    '-C',
    clone,
    '-c',
    'user.name=T',
    '-c',
    'user.email=t@example.com',
    'commit',
    '-qm',
    `add ${file}`,
  ]);
  return run('git', ['-C', clone, 'push', 'origin', 'HEAD:main'], { env });
}

describe('git test servers', () => {
  describe('smart HTTP with push-to-create (the development git server)', () => {
    it('creates a repository on its first push, and never outside its root', async () => {
      const root = await tempDir();
      const server = await new GitHttpServer({
        root: join(root, 'repos'),
        auth: { tokens: ['ghp_createtoken'] },
        createOnPush: true,
      }).start();
      try {
        const work = join(root, 'work');
        await runOk('git', ['init', '-q', '-b', 'main', work]);
        await runOk('git', ['-C', work, 'remote', 'add', 'origin', server.url('team/new.git')]);
        const pushed = await commitAndPush(work, withBasic('x', 'ghp_createtoken'), 'a.txt', 'a\n');
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.equal(
          (await runOk('git', ['--git-dir', join(root, 'repos/team/new.git'), 'show', 'main:a.txt'])).trim(),
          'a',
        );
        const unauthenticated = await fetch(`${server.url('team/other.git')}/info/refs?service=git-receive-pack`);
        assert.equal(unauthenticated.status, 401, 'creating needs the token');
        const authorization = `Basic ${Buffer.from('x:ghp_createtoken').toString('base64')}`;
        // Raw request paths (fetch() would normalize them first). Dot segments, also encoded, are resolved
        // by URL parsing and stay inside the root; an encoded slash would not be, and is refused.
        const statuses: number[] = [];
        for (const path of ['/%2e%2e/escape.git', '/a/../../escape.git', '/team%2F..%2F..%2Fescape.git']) {
          const status = await new Promise<number>((resolve, reject) => {
            const url = new URL(server.baseUrl);
            request(
              {
                host: url.hostname,
                port: url.port,
                path: `${path}/info/refs?service=git-receive-pack`,
                headers: { authorization },
              },
              (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              },
            )
              .on('error', reject)
              .end();
          });
          statuses.push(status);
        }
        assert.equal(statuses.at(-1), 400, 'an encoded ../ is refused');
        assert.equal((await run('ls', [join(root, 'escape.git')])).code, 2, 'nothing was created outside the root');
      } finally {
        await server.stop();
      }
    });

    it('the program (dev-git-server.ts) stops on SIGTERM with 0, after serving git', async () => {
      const root = await tempDir();
      await writeFile(join(root, 'token'), 'ghp_stoptoken\n');
      const port = await freePort();
      const server = startProcess(
        join(repoRoot, 'node_modules/.bin/node'),
        [
          join(repoRoot, 'hack/testenv/src/dev-git-server.ts'),
          `--listen=127.0.0.1:${port}`,
          `--root=${join(root, 'data')}`,
          `--token-file=${join(root, 'token')}`,
          // Made with git at start: the harness's process handling is in play from the first moment.
          '--repository=platform/config.git',
        ],
        join(root, 'server.log'),
      );
      const logs = () => readFile(join(root, 'server.log'), 'utf8').catch(() => '');
      try {
        await waitFor(async () => /"serving"/.test(await logs()), {
          timeoutMs: 30_000,
          describe: async () => `it did not start:\n${await logs()}`,
        });
        const clone = await run(
          'git',
          ['clone', '-q', `http://127.0.0.1:${port}/platform/config.git`, join(root, 'c')],
          {
            env: withBasic('x', 'ghp_stoptoken'),
          },
        );
        assert.equal(clone.code, 0, clone.stderr);
        // Signalled on its own, as a container runtime signals a container's first process.
        const exited = once(server.child, 'exit');
        process.kill(server.child.pid as number, 'SIGTERM');
        const [code, signal] = (await exited) as [number | null, string | null];
        assert.deepEqual({ code, signal }, { code: 0, signal: null }, await logs());
        assert.match(await logs(), /"stopped"/);
      } finally {
        await server.stop();
      }
    });
  });

  describe('smart HTTP with authentication', () => {
    let root: string;
    let server: GitHttpServer;

    before(async () => {
      root = await tempDir();
      await createBareRepository(join(root, 'repos/config.git'), { files: 20, commits: 3 });
      server = await new GitHttpServer({
        root: join(root, 'repos'),
        auth: { users: { alice: 's3cret' }, tokens: ['ghp_testtoken'] },
      }).start();
    });
    after(() => server.stop());

    it('clones and pushes with a username and password', async () => {
      const clone = join(root, 'basic');
      const env = withBasic('alice', 's3cret');
      await runOk('git', ['clone', '-q', server.url('config.git'), clone], { env });
      const pushed = await commitAndPush(clone, env, 'new.txt', 'hello\n');
      assert.equal(pushed.code, 0, pushed.stderr);
      const log = await runOk('git', ['--git-dir', join(root, 'repos/config.git'), 'log', '-1', '--format=%s', 'main']);
      assert.equal(log.trim(), 'add new.txt');
    });

    it('accepts a token as the password with any username, as GitHub does', async () => {
      const clone = join(root, 'token');
      const result = await run('git', ['clone', '-q', server.url('config.git'), clone], {
        env: withBasic('x-access-token', 'ghp_testtoken'),
      });
      assert.equal(result.code, 0, result.stderr);
    });

    it('answers 401 to wrong or missing credentials', async () => {
      const wrong = await run('git', ['clone', '-q', server.url('config.git'), join(root, 'wrong')], {
        env: withBasic('alice', 'nope'),
      });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /401|Authentication failed|could not read Username/);
      const missing = await run('git', ['clone', '-q', server.url('config.git'), join(root, 'missing')], {
        env: quietGit,
      });
      assert.notEqual(missing.code, 0);
      assert.ok(
        server.requests.some((r) => r.status === 401 && r.user === undefined),
        'a 401 for the anonymous request',
      );
      assert.ok(!server.requests.some((r) => r.status === 200 && r.user === undefined));
    });

    it('answers 404 for a repository that does not exist', async () => {
      const result = await run('git', ['ls-remote', server.url('nope.git')], { env: withBasic('alice', 's3cret') });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /not found|404/i);
    });
  });

  describe('partial clone', () => {
    let root: string;
    before(async () => {
      root = await tempDir();
      await createBareRepository(join(root, 'repos/big.git'), { files: 200, commits: 2, fileSize: 256 });
    });

    async function blobCount(gitDir: string): Promise<number> {
      const out = await runOk('git', [
        '--git-dir',
        gitDir,
        'cat-file',
        '--batch-all-objects',
        '--batch-check=%(objecttype)',
      ]);
      return out.split('\n').filter((t) => t === 'blob').length;
    }

    it('serves a blobless clone when enabled', async () => {
      const server = await new GitHttpServer({ root: join(root, 'repos'), partialClone: true }).start();
      try {
        const clone = join(root, 'blobless.git');
        await runOk('git', ['clone', '-q', '--bare', '--filter=blob:none', server.url('big.git'), clone], {
          env: quietGit,
        });
        assert.equal(await blobCount(clone), 0, 'no blobs are fetched up front');
        assert.equal((await runOk('git', ['--git-dir', clone, 'config', 'remote.origin.promisor'])).trim(), 'true');
        // A blob is fetched lazily, on demand, from the promisor remote.
        const content = await runOk('git', ['--git-dir', clone, 'cat-file', '-p', `main:${generatedFilePath(3)}`], {
          env: quietGit,
        });
        assert.match(content, /^file 3 revision 0/);
        assert.equal(await blobCount(clone), 1);
      } finally {
        await server.stop();
      }
    });

    it('refuses filters when partial clone is off, so the client gets every blob', async () => {
      const server = await new GitHttpServer({ root: join(root, 'repos'), partialClone: false }).start();
      try {
        const clone = join(root, 'full.git');
        const result = await run('git', ['clone', '--bare', '--filter=blob:none', server.url('big.git'), clone], {
          env: quietGit,
        });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /filtering not recognized by server/);
        assert.ok((await blobCount(clone)) >= 200, 'all blobs came with the clone');
      } finally {
        await server.stop();
      }
    });
  });

  describe('SSH', () => {
    let root: string;
    let server: SshGitServer;
    before(async () => {
      root = await tempDir();
      await createBareRepository(join(root, 'repos/team/config.git'), { files: 5 });
      server = await new SshGitServer(join(root, 'repos')).start();
    });
    after(() => server.stop());

    it('clones and pushes with a key when the host key is known', async () => {
      const env = await server.gitEnvironment();
      const clone = join(root, 'ssh-clone');
      await runOk('git', ['clone', '-q', server.url('team/config.git'), clone], { env });
      const pushed = await commitAndPush(clone, env, 'ssh.txt', 'over ssh\n');
      assert.equal(pushed.code, 0, pushed.stderr);
      const log = await runOk('git', [
        '--git-dir',
        join(root, 'repos/team/config.git'),
        'log',
        '-1',
        '--format=%s',
        'main',
      ]);
      assert.equal(log.trim(), 'add ssh.txt');
    });

    it('refuses to connect when the host key is not the known one', async () => {
      const other = await generateSshKey(root, 'impostor');
      const wrongKnownHosts = `[127.0.0.1]:${server.port} ${other.publicKey.split(' ').slice(0, 2).join(' ')}`;
      const env = await server.gitEnvironment({ knownHosts: wrongKnownHosts });
      const result = await run('git', ['ls-remote', server.url('team/config.git')], { env });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });

    it('refuses a host it does not know at all', async () => {
      const env = await server.gitEnvironment({ knownHosts: '' });
      const result = await run('git', ['ls-remote', server.url('team/config.git')], { env });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /Host key verification failed|No .* host key is known/);
    });

    it('serves git commands only', async () => {
      const env = await server.gitEnvironment();
      const sshCommand = (env.GIT_SSH_COMMAND ?? '').split(' ');
      const result = await run(
        sshCommand[0] ?? 'ssh',
        [...sshCommand.slice(1), '-p', String(server.port), `${server.user}@127.0.0.1`, 'id'],
        {
          env,
        },
      );
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /only serves git/);
    });
  });

  describe('repository factory', () => {
    it('makes a repository of the requested shape', async () => {
      const root = await tempDir();
      const path = join(root, 'shape.git');
      await createBareRepository(path, { files: 1000, commits: 50, extraFiles: { 'README.md': '# hi\n' } });
      const count = await runOk('git', ['--git-dir', path, 'rev-list', '--count', 'main']);
      assert.equal(count.trim(), '50');
      const files = await runOk('git', ['--git-dir', path, 'ls-tree', '-r', '--name-only', 'main']);
      assert.equal(files.trim().split('\n').length, 1001);
    });
  });
});
