import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '@gco/common/logger';
import type { CommitResponse } from '@gco/sidecar-api';
import { createBareRepository, generateSshKey, headOf, run, runOk, tempDir } from '@gco/testenv';
import { commitRequest } from '@gco/testenv/sidecar';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { type CommitSigner, withSignature } from '../src/commit/signer.ts';
import { BatchExecutor } from '../src/jobs/batch-executor.ts';
import type { Job } from '../src/jobs/job.ts';
import { CloneStore } from '../src/store/clone-store.ts';
import { parseRemoteUrl } from '../src/store/remote-url.ts';

/**
 * The signing seam, end to end in process: a batch executor given a test signer (SSH, through the real
 * ssh-keygen) pushes to a real bare repository that checks every object, and git itself reads and
 * verifies the signature the sidecar wrote. No signing method ships; this holds the place where one plugs in.
 */
describe('git sidecar: commits go through the signer', () => {
  let root: string;
  let gitDir: string;
  let executor: BatchExecutor;
  let key: Awaited<ReturnType<typeof generateSshKey>>;
  const signed: Buffer[] = [];

  before(async () => {
    root = await tempDir();
    gitDir = join(root, 'repos', 'signed.git');
    await createBareRepository(gitDir, { files: 5 });
    await runOk('git', ['--git-dir', gitDir, 'config', 'receive.fsckObjects', 'true']);
    key = await generateSshKey(root, 'signing-key');
    const signer: CommitSigner = {
      async sign(commit) {
        signed.push(commit);
        // With no file named, ssh-keygen signs its standard input and writes the signature to its output.
        const signature = await runOk('ssh-keygen', ['-Y', 'sign', '-n', 'git', '-f', key.privateKeyPath], {
          input: commit,
        });
        return withSignature(commit, signature);
      },
    };
    const store = new CloneStore({
      dataDir: join(root, 'data'),
      diskBudgetBytes: 0,
      gitTimeoutMs: 60_000,
      logger: createLogger({ level: 'error', component: 'test' }),
    });
    await store.recover();
    executor = new BatchExecutor({
      store,
      logger: createLogger({ level: 'error', component: 'test' }),
      gitTimeoutMs: 60_000,
      maxPushAttempts: 3,
      executionSearchDepth: 100,
      backoff: { initialMs: 50, maxMs: 500 },
      defaultBranchCacheMs: 60_000,
      signerFor: () => signer,
    });
  });

  /** Runs one job through the executor, as the scheduler would hand it over. */
  async function commit(id: string): Promise<CommitResponse> {
    const url = `file://${gitDir}`;
    const request = commitRequest({ url, id, ops: [{ path: 'signed/config.yaml', content: `id: ${id}\n` }] });
    return new Promise<CommitResponse>((resolve, reject) => {
      const job: Job = {
        request,
        remote: parseRemoteUrl(url, { allowFileUrls: true }),
        deadline: Date.now() + 60_000,
        signal: new AbortController().signal,
        enqueuedAt: Date.now(),
        batchKey: '',
        traceContext: ROOT_CONTEXT,
        queueSpan: trace.getTracer('test').startSpan('sidecar queue'),
        resolve,
        reject,
      };
      executor.run([job]).catch(reject);
    });
  }

  it('pushes the signed commit, byte for byte what git commit -S makes, and git verifies it', async () => {
    const before = signed.length;
    const response = await commit('exec-signed-1');
    assert.equal(response.pushed, true);
    assert.equal(response.commitSha, await headOf(gitDir, 'main'));
    assert.equal(signed.length, before + 1, 'the signer saw the one commit of the batch');

    const object = await runOk('git', ['--git-dir', gitDir, 'cat-file', 'commit', response.commitSha]);
    const headers = object.slice(0, object.indexOf('\n\n'));
    assert.match(headers, /\ngpgsig -----BEGIN SSH SIGNATURE-----\n( \S+\n)+ -----END SSH SIGNATURE-----$/);
    assert.equal(
      object.replace(/gpgsig [^\n]*\n( [^\n]*\n)*/, ''),
      signed.at(-1)?.toString(),
      'without its signature the commit is exactly what the signer was given',
    );

    const allowedSigners = join(root, 'allowed_signers');
    await writeFile(allowedSigners, `sidecar@example.com ${key.publicKey}\n`);
    const verified = await run('git', [
      '--git-dir',
      gitDir,
      '-c',
      'gpg.format=ssh',
      '-c',
      `gpg.ssh.allowedSignersFile=${allowedSigners}`,
      'verify-commit',
      response.commitSha,
    ]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stderr, /Good "git" signature for sidecar@example\.com with ED25519 key/);

    // Ed25519 signatures are deterministic: git signing the same tree, parent, author, time and message
    // with the same key writes the same object, so the header sits where git puts it, formatted as git does.
    const fields = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(headers)?.[1] ?? '';
    const author = /^(.*) <(.*)> (\d+) \+0000$/.exec(fields('author')) ?? [];
    const messageFile = join(root, 'message');
    await writeFile(messageFile, object.slice(object.indexOf('\n\n') + 2));
    const date = `@${author[3]} +0000`;
    const bySelf = await runOk(
      'git',
      [
        '--git-dir',
        gitDir,
        '-c',
        'gpg.format=ssh',
        '-c',
        `user.signingKey=${key.privateKeyPath}`,
        'commit-tree',
      ].concat(['-S', '-p', fields('parent'), '-F', messageFile, fields('tree')]),
      {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: author[1],
          GIT_AUTHOR_EMAIL: author[2],
          GIT_AUTHOR_DATE: date,
          GIT_COMMITTER_NAME: author[1],
          GIT_COMMITTER_EMAIL: author[2],
          GIT_COMMITTER_DATE: date,
        },
      },
    );
    assert.equal(bySelf.trim(), response.commitSha);
  });

  it('finds a signed commit by its execution id: the same job again makes no second commit', async () => {
    const first = await commit('exec-signed-2');
    const again = await commit('exec-signed-2');
    assert.equal(again.alreadyApplied, true);
    assert.equal(again.commitSha, first.commitSha);
    assert.equal(await headOf(gitDir, 'main'), first.commitSha);
  });

  it("writes a signature's blank lines as git does: one space, as every continuation line", () => {
    const commit = Buffer.from('tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\n\nmsg\n');
    assert.equal(
      withSignature(commit, '-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n').toString(),
      'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\n' +
        'gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nmsg\n',
    );
  });
});
