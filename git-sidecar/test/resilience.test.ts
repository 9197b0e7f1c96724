import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Failure_Category as Category,
  type CommitResponse,
  createSidecarClient,
  failureOf,
  Failure_Reason as Reason,
} from '@gco/sidecar-api';
import {
  createBareRepository,
  executionsOn,
  fileAt,
  GitHttpServer,
  runOk,
  type SidecarProcess,
  SshGitServer,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { basicCredentials, commitRequest, expectFailure, sshCredentials, tokenCredentials } from '@gco/testenv/sidecar';

const token = 'ghp_resilience_token_abcdef0123456789';

/** Every file under `dir`, as bytes, for grepping. */
async function allFiles(dir: string): Promise<Array<{ path: string; content: Buffer }>> {
  const out: Array<{ path: string; content: Buffer }> = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push({ path: p, content: await readFile(p) });
    }
  };
  await walk(dir);
  return out;
}

describe('git sidecar: resilience', function () {
  this.timeout(300_000);
  let root: string;
  let server: GitHttpServer;
  let n = 0;
  const creds = tokenCredentials(token);

  async function repository(shape: Parameters<typeof createBareRepository>[1] = { files: 10 }) {
    const name = `r-${n++}.git`;
    const gitDir = join(root, 'repos', name);
    await createBareRepository(gitDir, shape);
    return { url: server.url(name), gitDir, name };
  }

  before(async () => {
    root = await tempDir();
    server = await new GitHttpServer({
      root: join(root, 'repos'),
      auth: { tokens: [token], users: { ci: 'basic-secret-pw-42' } },
    }).start();
  });
  after(() => server.stop());

  describe('over SSH', () => {
    let ssh: SshGitServer;
    let sidecar: SidecarProcess;
    before(async () => {
      ssh = await new SshGitServer(join(root, 'repos')).start();
      sidecar = await startSidecar();
    });
    after(async () => {
      await sidecar.stop();
      await ssh.stop();
    });

    it('commits with a key when the host key is verified', async () => {
      const repo = await repository({ files: 5 });
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const res = await client.commit(
        commitRequest({
          url: ssh.url(repo.name),
          credentials: sshCredentials(ssh.clientKey.privateKey, ssh.knownHosts),
          ops: [{ path: 'ssh.txt', content: 'over ssh\n' }],
        }),
      );
      assert.equal(res.pushed, true);
      assert.equal(await fileAt(repo.gitDir, 'main', 'ssh.txt'), 'over ssh\n');
    });

    it('refuses a host whose key is unknown or different', async () => {
      const repo = await repository({ files: 1 });
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const impostor = `[127.0.0.1]:${ssh.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl`;
      for (const knownHosts of ['', impostor]) {
        await expectFailure(
          client.commit(
            commitRequest({
              url: ssh.url(repo.name),
              credentials: sshCredentials(ssh.clientKey.privateKey, knownHosts),
              ops: [{ path: 'x', content: 'x' }],
            }),
          ),
          Reason.HOST_KEY_REJECTED,
        );
      }
    });
  });

  it('falls back to a full clone when the server refuses partial clone', async () => {
    const fullRoot = join(root, 'full');
    await createBareRepository(join(fullRoot, 'f.git'), { files: 30, extraFiles: { 'a.log': 'a\n' } });
    const fullServer = await new GitHttpServer({ root: fullRoot, partialClone: false }).start();
    const sidecar = await startSidecar();
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      for (const line of ['b\n', 'c\n']) {
        await client.commit(
          commitRequest({ url: fullServer.url('f.git'), ops: [{ path: 'a.log', content: line, mode: 'append' }] }),
        );
      }
      assert.equal(await fileAt(join(fullRoot, 'f.git'), 'main', 'a.log'), 'a\nb\nc\n');
      const [clone] = await readdir(join(sidecar.dataDir, 'clones'));
      const mode = await runOk('git', [
        '--git-dir',
        join(sidecar.dataDir, 'clones', clone ?? ''),
        'config',
        'gco.partial',
      ]);
      assert.equal(mode.trim(), 'false');
      assert.match(await sidecar.logs(), /refuses partial clone/);
    } finally {
      await sidecar.stop();
      await fullServer.stop();
    }
  });

  it('four sidecars (four clusters) pushing 50 jobs each to one branch: all 200 land, linear, none twice', async () => {
    const repo = await repository({ files: 200 });
    const sidecars = await Promise.all([0, 1, 2, 3].map(() => startSidecar()));
    try {
      const ids: string[] = [];
      const calls: Array<Promise<CommitResponse>> = [];
      sidecars.forEach((s, c) => {
        const client = createSidecarClient({ socketPath: s.socketPath });
        for (let j = 0; j < 50; j++) {
          const id = `cluster${c}-job${j}`;
          ids.push(id);
          calls.push(
            client.commit(
              commitRequest({
                url: repo.url,
                credentials: creds,
                id,
                ops: [
                  { path: `clusters/${c}/job-${j}.yaml`, content: `job: ${j}\n` },
                  { path: 'audit.log', content: `${id}\n`, mode: 'append' },
                ],
              }),
              { timeoutMs: 240_000 },
            ),
          );
        }
      });
      const results = await Promise.all(calls);
      assert.ok(results.every((r) => r.changed && r.pushed));
      const landed = await executionsOn(repo.gitDir, 'main');
      assert.equal(landed.length, 200);
      assert.deepEqual([...landed].sort(), [...ids].sort(), 'each execution exactly once');
      const merges = await runOk('git', ['--git-dir', repo.gitDir, 'rev-list', '--merges', '--count', 'main']);
      assert.equal(merges.trim(), '0', 'history is linear');
      const audit = (await fileAt(repo.gitDir, 'main', 'audit.log')) ?? '';
      assert.deepEqual(audit.trim().split('\n').sort(), [...ids].sort(), 'every append landed once, none lost');
      // Each sidecar kept its own jobs in order.
      for (let c = 0; c < 4; c++) {
        const mine = landed.filter((id) => id.startsWith(`cluster${c}-`));
        assert.deepEqual(
          mine,
          ids.filter((id) => id.startsWith(`cluster${c}-`)),
        );
      }
    } finally {
      await Promise.all(sidecars.map((s) => s.stop()));
    }
  });

  it('recovers from kill -9 at random points: every retried job ends with exactly one commit', async () => {
    const repo = await repository({ files: 100, extraFiles: { 'stream.log': '' } });
    const dataDir = join(await tempDir(), 'data');
    const jobs = Array.from({ length: 40 }, (_, i) =>
      commitRequest({
        url: repo.url,
        credentials: creds,
        id: `crash-${i}`,
        ops: [
          { path: 'stream.log', content: `line ${i}\n`, mode: 'append' },
          { path: `items/${i}.txt`, content: `${i}\n` },
        ],
      }),
    );
    const done = new Set<string>();
    let kills = 0;
    for (let round = 0; done.size < jobs.length && round < 10; round++) {
      const sidecar = await startSidecar({ dataDir });
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const pending = jobs.filter((j) => !done.has(j.executionId));
      // Fixed and random waits on purpose: jobs arrive spread out and the kill lands at a random point
      // of their clone, fetch, build or push.
      const calls = pending.map(async (job, i) => {
        await sleep(i * 15);
        const res = await client.commit(job, { timeoutMs: 60_000 });
        done.add(job.executionId);
        return res;
      });
      const settled = Promise.allSettled(calls);
      if (round < 3) {
        await sleep(100 + Math.floor(Math.random() * 600));
        await sidecar.kill();
        kills++;
        await settled;
      } else {
        await settled;
        await sidecar.stop();
      }
    }
    // Up to three kills; fewer when the jobs left after a restart all finish before the next one.
    assert.ok(kills >= 1 && kills <= 3, `killed ${kills} times with jobs in flight`);
    assert.equal(done.size, jobs.length, 'every job succeeded in the end');
    const landed = await executionsOn(repo.gitDir, 'main');
    assert.deepEqual([...landed].sort(), jobs.map((j) => j.executionId).sort(), 'exactly one commit per job');
    const lines = ((await fileAt(repo.gitDir, 'main', 'stream.log')) ?? '').trim().split('\n');
    assert.equal(lines.length, jobs.length, 'no append applied twice');
  });

  it('removes stale locks and temporary packs at start, and re-clones a broken clone', async () => {
    const repo = await repository({ files: 20 });
    const other = await repository({ files: 20 });
    const dataDir = join(await tempDir(), 'data');
    let sidecar = await startSidecar({ dataDir });
    let client = createSidecarClient({ socketPath: sidecar.socketPath });
    for (const r of [repo, other]) {
      await client.commit(commitRequest({ url: r.url, credentials: creds, ops: [{ path: 'one.txt', content: '1' }] }));
    }
    await sidecar.kill();
    const clones = await readdir(join(dataDir, 'clones'));
    const goodClone = join(dataDir, 'clones', clones.find((c) => c.includes(repo.name.replace('.git', ''))) ?? '');
    const brokenClone = join(dataDir, 'clones', clones.find((c) => c.includes(other.name.replace('.git', ''))) ?? '');
    // What a crash leaves behind.
    const leftovers = [
      join(goodClone, 'refs/remotes/origin/main.lock'),
      join(goodClone, 'packed-refs.lock'),
      join(goodClone, 'objects/pack/tmp_pack_AbCdEf'),
    ];
    for (const f of leftovers) await writeFile(f, 'stale');
    // Corruption: the packs of the other clone are gone.
    for (const f of await readdir(join(brokenClone, 'objects/pack')))
      await runOk('rm', ['-f', join(brokenClone, 'objects/pack', f)]);

    sidecar = await startSidecar({ dataDir });
    client = createSidecarClient({ socketPath: sidecar.socketPath });
    try {
      for (const f of leftovers) assert.ok(!existsSync(f), `${f} was removed`);
      assert.match(await sidecar.logs(), /removing a broken clone/);
      for (const r of [repo, other]) {
        const res = await client.commit(
          commitRequest({ url: r.url, credentials: creds, ops: [{ path: 'two.txt', content: '2' }] }),
        );
        assert.equal(res.pushed, true);
        assert.equal(await fileAt(r.gitDir, 'main', 'two.txt'), '2');
      }
    } finally {
      await sidecar.stop();
    }
  });

  it('gives up on a git command past --git-timeout with TIMEOUT, leaving no lock behind', async () => {
    const repo = await repository({ files: 5 });
    // The server answers the fetch only once the test lets it: past any timeout, however slow the machine.
    let stall = true;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    server.addRoute(async (req) => {
      if (stall && req.url?.includes(repo.name) && req.url.includes('upload-pack')) await held;
      return false;
    });
    const sidecar = await startSidecar({ args: ['--git-timeout=1s'] });
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      await expectFailure(
        client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'slow.txt', content: 's' }] })),
        Reason.TIMEOUT,
      );
      stall = false;
      release();
      const res = await client.commit(
        commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'slow.txt', content: 's' }] }),
      );
      assert.equal(res.pushed, true);
      const locks = (await runOk('find', [join(sidecar.dataDir, 'clones'), '-name', '*.lock'])).trim();
      assert.equal(locks, '');
    } finally {
      stall = false;
      release();
      await sidecar.stop();
    }
  });

  it('evicts the least recently used clone past the disk budget', async () => {
    const a = await repository({ files: 300, fileSize: 2000 });
    const b = await repository({ files: 300, fileSize: 2000 });
    const sidecar = await startSidecar({ args: ['--disk-budget=1'] });
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      // One job after the other: b's clone is used after a's (its clone, fetch and push took their time).
      await client.commit(commitRequest({ url: a.url, credentials: creds, ops: [{ path: 'a.txt', content: 'a' }] }));
      await client.commit(commitRequest({ url: b.url, credentials: creds, ops: [{ path: 'b.txt', content: 'b' }] }));
      // Eviction runs once the scheduler is idle, after the answer.
      let clones: string[] = [];
      await waitFor(
        async () => {
          clones = await readdir(join(sidecar.dataDir, 'clones'));
          return clones.length === 1;
        },
        { timeoutMs: 10_000, describe: () => `more than one clone left: ${clones.join(', ')}` },
      );
      assert.ok(clones[0]?.includes(b.name.replace('.git', '')), 'the most recently used one');
      assert.match(await sidecar.logs(), /evicting clone over the disk budget/);
      // The evicted repository still works: it is cloned again.
      const again = await client.commit(
        commitRequest({ url: a.url, credentials: creds, ops: [{ path: 'a2.txt', content: 'a' }] }),
      );
      assert.equal(again.pushed, true);
    } finally {
      await sidecar.stop();
    }
  });

  it('reports an unreachable remote as UNAVAILABLE, transient, saying which host it could not reach', async () => {
    const sidecar = await startSidecar();
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const error = await expectFailure(
        client.commit(commitRequest({ url: 'http://127.0.0.1:9/nothing.git', ops: [{ path: 'x', content: 'x' }] })),
        Reason.UNAVAILABLE,
        /could not connect to 127\.0\.0\.1:9 for http:\/\/127\.0\.0\.1:9\/nothing\.git \(.*\): check the URL's host and port/,
      );
      assert.equal(failureOf(error)?.category, Category.TRANSIENT);
    } finally {
      await sidecar.stop();
    }
  });

  it('maintains idle clones in the background: loose objects packed, commit-graph written', async () => {
    const repo = await repository({ files: 50 });
    const sidecar = await startSidecar({ args: ['--maintenance-interval=500ms'] });
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      for (let i = 0; i < 3; i++) {
        await client.commit(
          commitRequest({ url: repo.url, credentials: creds, ops: [{ path: `m${i}.txt`, content: `${i}` }] }),
        );
      }
      const [clone] = await readdir(join(sidecar.dataDir, 'clones'));
      const gitDir = join(sidecar.dataDir, 'clones', clone ?? '');
      let loose = -1;
      for (let i = 0; i < 60 && loose !== 0; i++) {
        await sleep(250);
        const counts = await runOk('git', ['--git-dir', gitDir, 'count-objects', '-v']);
        loose = Number(/^count: (\d+)$/m.exec(counts)?.[1]);
      }
      assert.equal(loose, 0, 'the loose objects of the commits were packed');
      assert.ok(
        existsSync(join(gitDir, 'objects/info/commit-graph')) || existsSync(join(gitDir, 'objects/info/commit-graphs')),
        'a commit-graph was written',
      );
      const res = await client.commit(
        commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'after.txt', content: 'a' }] }),
      );
      assert.equal(res.pushed, true);
    } finally {
      await sidecar.stop();
    }
  });

  it('finishes running jobs on SIGTERM and exits cleanly', async () => {
    const repo = await repository({ files: 20 });
    // The job's first request to the server waits there until the sidecar has begun shutting down.
    let reached = false;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    server.addRoute(async (req) => {
      if (req.url?.includes(repo.name)) {
        reached = true;
        await held;
      }
      return false;
    });
    const sidecar = await startSidecar();
    const client = createSidecarClient({ socketPath: sidecar.socketPath });
    const running = client.commit(
      commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'last.txt', content: 'l' }] }),
    );
    const exited = new Promise<number | null>((resolve) => sidecar.process.child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => reached, { timeoutMs: 30_000, describe: () => 'the job never reached the git server' });
      sidecar.process.child.kill('SIGTERM');
      await waitFor(async () => /shutting down/.test(await sidecar.logs()), {
        timeoutMs: 30_000,
        describe: async () => `the sidecar did not begin shutting down:\n${await sidecar.logs()}`,
      });
    } finally {
      release();
    }
    const res = await running;
    assert.equal(res.pushed, true);
    assert.equal(await exited, 0);
    assert.match(await sidecar.logs(), /"stopped"/);
    assert.ok(!existsSync(sidecar.socketPath), 'the socket is removed');
  });

  it('also serves on TCP for development', async () => {
    const sidecar = await startSidecar({ args: ['--listen-tcp=127.0.0.1:0'] });
    try {
      // The socket (what startSidecar waits for) exists before the TCP listener: the port is known once the
      // sidecar says it is serving.
      let port = 0;
      await waitFor(
        async () => {
          port = Number(/"tcpPort":(\d+)/.exec(await sidecar.logs())?.[1] ?? 0);
          return port > 0;
        },
        { timeoutMs: 30_000, describe: async () => `no TCP port logged:\n${await sidecar.logs()}` },
      );
      const health = await createSidecarClient({ baseUrl: `http://127.0.0.1:${port}` }).health({});
      assert.equal(health.serving, true);
    } finally {
      await sidecar.stop();
    }
  });

  it('never lets a credential reach the data directory, the logs or an error', async () => {
    const sshRoot = join(root, 'repos');
    const ssh = await new SshGitServer(sshRoot).start();
    const sidecar = await startSidecar();
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const repo = await repository({ files: 5 });
      const errors: string[] = [];
      await client.commit(commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 't.txt', content: 't' }] }));
      await client.commit(
        commitRequest({
          url: repo.url,
          credentials: basicCredentials('ci', 'basic-secret-pw-42'),
          ops: [{ path: 'b.txt', content: 'b' }],
        }),
      );
      await client.commit(
        commitRequest({
          url: ssh.url(repo.name),
          credentials: sshCredentials(ssh.clientKey.privateKey, ssh.knownHosts),
          ops: [{ path: 's.txt', content: 's' }],
        }),
      );
      for (const wrong of [
        tokenCredentials('ghp_definitely_wrong_token_123'),
        basicCredentials('ci', 'wrong-password-xyz'),
      ]) {
        errors.push(
          (
            await expectFailure(
              client.commit(commitRequest({ url: repo.url, credentials: wrong, ops: [{ path: 'x', content: 'x' }] })),
              Reason.AUTHENTICATION_REJECTED,
            )
          ).message,
        );
      }
      const keyBody = ssh.clientKey.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1] ?? '';
      const secrets = [
        token,
        Buffer.from(`x-access-token:${token}`).toString('base64'),
        'basic-secret-pw-42',
        'ghp_definitely_wrong_token_123',
        'wrong-password-xyz',
        keyBody,
      ];
      assert.ok(keyBody.length > 20);
      const files = await allFiles(sidecar.dataDir);
      assert.ok(files.length > 10, 'the data directory holds the clones');
      const logs = await sidecar.logs();
      for (const secret of secrets) {
        for (const f of files) assert.ok(!f.content.includes(secret), `${secret.slice(0, 6)}… found in ${f.path}`);
        assert.ok(!logs.includes(secret), `${secret.slice(0, 6)}… found in the logs`);
        for (const e of errors) assert.ok(!e.includes(secret), `${secret.slice(0, 6)}… found in an error`);
      }
      // Temporary credential files are gone once the jobs are done.
      assert.deepEqual(await readdir(join(sidecar.dataDir, 'tmp')), []);
      assert.ok((await stat(join(sidecar.dataDir, 'tmp'))).mode & 0o700);
    } finally {
      await sidecar.stop();
      await ssh.stop();
    }
  });
});
