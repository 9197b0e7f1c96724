import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  createBareRepository,
  fileAt,
  GitHttpServer,
  sharedControlPlane,
  startOperator,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { token, tokenSecret } from '../support.ts';

const ns = 'gc-process';

describe('operator process: health, leader election, shutdown', function () {
  this.timeout(300_000);

  it('serves /healthz and /readyz, elects one leader among two replicas, and hands over on SIGTERM', async () => {
    const plane = await sharedControlPlane();
    await plane.ensureNamespace(ns);
    const root = await tempDir();
    await createBareRepository(join(root, 'repos/ha.git'), { files: 2 });
    const git = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
    const sidecar = await startSidecar();
    const args = ['--leader-elect', '--leader-election-id=gco-ha-test'];
    const first = await startOperator(plane, { sidecarSocket: sidecar.socketPath, args });
    const health = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.status);
    try {
      assert.equal(await health(first.healthPort, '/healthz'), 200);
      assert.equal(await health(first.healthPort, '/readyz'), 200);
      // The second replica starts but waits for the lease; it is alive and ready to take over.
      const second = await startOperator(plane, { sidecarSocket: sidecar.socketPath, args, standby: true });
      try {
        assert.equal(await health(second.healthPort, '/healthz'), 200);
        assert.doesNotMatch(await second.logs(), /controllers started/);
        const lease = await plane.kubectl([
          'get',
          'lease',
          'gco-ha-test',
          '-n',
          'git-change-operator-system',
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]);
        assert.ok(lease.stdout.length > 0);

        // SIGTERM: the leader finishes, releases the lease, exits 0; the standby takes over at once.
        const exited = once(first.process.child, 'exit');
        first.process.child.kill('SIGTERM');
        const [code] = (await exited) as [number];
        assert.equal(code, 0);
        assert.match(await first.logs(), /"stopped"/);
        await waitFor(async () => /controllers started/.test(await second.logs()), {
          timeoutMs: 10_000,
          describe: async () => `the standby did not take over:\n${await second.logs()}`,
        });
        await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(tokenSecret('git-credentials', ns)) });
        await plane.kubectl(['apply', '-f', '-'], {
          input: JSON.stringify({
            apiVersion: 'gco.galos.one/v1',
            kind: 'GitCommit',
            metadata: { name: 'after-handover', namespace: ns },
            spec: {
              repository: { url: git.url('ha.git'), branch: 'main' },
              auth: { secretName: 'git-credentials' },
              commit: { message: 'from the new leader' },
              files: [{ path: 'leader.txt', content: 'second' }],
            },
          }),
        });
        await waitFor(async () => (await fileAt(join(root, 'repos/ha.git'), 'main', 'leader.txt')) === 'second', {
          timeoutMs: 30_000,
          describe: async () => `the new leader did not commit:\n${await second.logs()}`,
        });
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      await sidecar.stop();
      await git.stop();
    }
  });
});
