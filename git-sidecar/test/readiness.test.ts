// The sidecar's /readyz (its container's readiness probe), on the real sidecar process: not ready while
// it checks the clones on its volume at start, ready once it listens on its socket, not ready again
// while it drains after SIGTERM; /healthz (the liveness probe) answers throughout.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSidecarClient, Failure_Reason as Reason } from '@gco/sidecar-api';
import {
  createBareRepository,
  executionsOn,
  GitHttpServer,
  runOk,
  type SidecarProcess,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { commitRequest, expectFailure, tokenCredentials } from '@gco/testenv/sidecar';

const token = 'ghp_readiness_token_0123456789';

describe('git sidecar: readiness (/readyz)', function () {
  this.timeout(120_000);
  let root: string;
  let server: GitHttpServer;

  before(async () => {
    root = await tempDir();
    server = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
  });
  after(() => server.stop());

  const status = async (sidecar: SidecarProcess, path: string) =>
    (await fetch(`http://127.0.0.1:${sidecar.metricsPort}${path}`)).status;

  it('is not ready while it checks the clones on its volume, ready once it listens on its socket', async () => {
    const dataDir = join(await tempDir(), 'data');
    // A clone whose check at start waits for the test: its alternates file is a FIFO, and git's `fsck`
    // blocks opening it for reading until a writer opens it.
    const held = join(dataDir, 'clones', 'held');
    await runOk('git', ['init', '--quiet', '--bare', held]);
    const fifo = join(held, 'objects/info/alternates');
    await runOk('mkfifo', [fifo]);
    const sidecar = await startSidecar({ dataDir, wait: false });
    try {
      await waitFor(async () => (await status(sidecar, '/healthz')) === 200, {
        timeoutMs: 30_000,
        describe: async () => `the sidecar's listener did not answer:\n${await sidecar.logs()}`,
      });
      assert.equal(await status(sidecar, '/readyz'), 503, 'not ready while the clones are being checked');
      assert.ok(!existsSync(sidecar.socketPath), 'and not listening on its socket yet');
      assert.doesNotMatch(await sidecar.logs(), /data directory ready/);

      // Release the check: a writer (read-write, so opening never blocks) wakes a git waiting to read,
      // the FIFO's removal leaves a later open with no alternates, and closing gives the reader EOF.
      const writer = await open(fifo, 'r+');
      await rm(fifo);
      await writer.close();
      await waitFor(async () => (await status(sidecar, '/readyz')) === 200, {
        timeoutMs: 30_000,
        describe: async () => `the sidecar did not turn ready:\n${await sidecar.logs()}`,
      });
      assert.ok(existsSync(sidecar.socketPath), 'ready means listening on its socket');
      assert.match(await sidecar.logs(), /"data directory ready".*"clones":1/);
      const health = await createSidecarClient({ socketPath: sidecar.socketPath }).health({});
      assert.equal(health.serving, true);
      assert.equal(await status(sidecar, '/healthz'), 200);
    } finally {
      await sidecar.stop();
    }
  });

  it('is not ready while it drains after SIGTERM, live until it exits', async () => {
    const name = 'drain.git';
    const gitDir = join(root, 'repos', name);
    await createBareRepository(gitDir, { files: 5 });
    // The job's push waits here until the test lets it through: the drain lasts as long as the test says.
    let held = 0;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    server.addRoute(async (req) => {
      if (req.method === 'POST' && req.url?.startsWith(`/${name}/git-receive-pack`)) {
        held++;
        await gate;
      }
      return false;
    });
    const sidecar = await startSidecar();
    try {
      // The socket appears a moment before listen() returns and the sidecar calls itself ready.
      await waitFor(async () => (await status(sidecar, '/readyz')) === 200, {
        timeoutMs: 10_000,
        describe: async () => `the sidecar did not turn ready:\n${await sidecar.logs()}`,
      });
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      const creds = tokenCredentials(token);
      const request = commitRequest({
        url: server.url(name),
        credentials: creds,
        ops: [{ path: 'd.txt', content: 'd' }],
      });
      const running = client.commit(request);
      await waitFor(async () => held > 0, {
        timeoutMs: 30_000,
        describe: async () => `the push never reached the server:\n${await sidecar.logs()}`,
      });

      const exited = new Promise<number | null>((resolve) =>
        sidecar.process.child.once('exit', (code) => resolve(code)),
      );
      sidecar.process.child.kill('SIGTERM');
      // Logged right after readiness is withdrawn; the held push keeps the process draining after it.
      await waitFor(async () => /shutting down: finishing running jobs/.test(await sidecar.logs()), {
        timeoutMs: 10_000,
        describe: async () => `no drain after SIGTERM:\n${await sidecar.logs()}`,
      });
      assert.equal(await status(sidecar, '/readyz'), 503, 'not ready while draining');
      assert.equal(await status(sidecar, '/healthz'), 200, 'still live: the liveness probe must not kill a drain');
      await expectFailure(
        client.commit(
          commitRequest({ url: server.url(name), credentials: creds, ops: [{ path: 'late.txt', content: 'l' }] }),
        ),
        Reason.UNAVAILABLE,
        /shutting down/,
      );

      release();
      const res = await running;
      assert.equal(res.pushed, true, 'the running job finished');
      assert.equal(await exited, 0);
      assert.deepEqual(await executionsOn(gitDir, 'main'), [request.executionId], 'the refused job made no commit');
    } finally {
      release();
      await sidecar.stop();
    }
  });
});
