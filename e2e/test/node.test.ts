// The scenarios with the cluster target on the harness's real node: the images built from their
// Dockerfiles, manifests/overlays/e2e applied as users apply it, the operator a StatefulSet pod that
// authenticates with its projected ServiceAccount token. Then what only a pod has: its clone volume.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@gco/testenv';
import { stringify } from 'yaml';
import { type NodeTarget, startNodeTarget } from '../src/node-target.ts';
import { RemoteRepository } from '../src/remote-repository.ts';
import { operatorNamespace as ns } from '../src/target.ts';
import { podMemory } from './pod-memory.ts';
import { scenarios } from './scenarios.ts';

const pod = 'git-change-operator-0';

describe("e2e on a real node: the users' scenarios against manifests/overlays/e2e", function () {
  this.timeout(300_000);
  let target: NodeTarget;
  scenarios(
    async () => {
      const started = Date.now();
      target = await startNodeTarget();
      figure('node, images (cached), import, apply and rollout (s)', (Date.now() - started) / 1000);
      return target;
    },
    // Cold, buildImages first builds the base and the three images (images.test.ts allows as much).
    { startTimeoutMs: 3_600_000 },
  );

  async function kubectl(args: string[], input?: string): Promise<string> {
    const r = await target.kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  const getPod = async () => JSON.parse(await kubectl(['get', 'pod', pod, '-n', ns, '-o', 'json']));
  const isReady = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

  it('the operator pod is Ready and leads with its projected ServiceAccount token (in-cluster auth)', async () => {
    const p = await getPod();
    assert.ok(isReady(p), `pod ${pod} is Ready`);
    const manager = p.spec.containers.find((c: any) => c.name === 'manager');
    assert.ok(!(manager.env ?? []).some((e: any) => e.name === 'KUBECONFIG'), 'no kubeconfig: in-cluster auth');
    const mount = manager.volumeMounts.find(
      (m: any) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    assert.ok(mount, 'the ServiceAccount token is mounted');
    const volume = p.spec.volumes.find((v: any) => v.name === mount.name);
    assert.ok(
      volume?.projected?.sources?.some((s: any) => s.serviceAccountToken),
      'a projected, bound ServiceAccount token',
    );
    assert.equal(p.spec.serviceAccountName, 'git-change-operator');
    // The Lease is written with that token: the API server authenticated the pod's ServiceAccount
    // and authorized it under manifests/rbac's leader-election Role.
    const lease = JSON.parse(await kubectl(['get', 'lease', 'git-change-operator', '-n', ns, '-o', 'json']));
    assert.match(lease.spec.holderIdentity ?? '', new RegExp(`^${pod}_[0-9a-f-]{36}$`));
    // Figures for the README, at the API's 1 s resolution. Both containers' readiness probes run every 10 s.
    const at = (t: string) => Date.parse(t) / 1000;
    const created = at(p.metadata.creationTimestamp);
    const condition = (type: string) => at(p.status.conditions.find((c: any) => c.type === type).lastTransitionTime);
    figure('operator pod (s after creation)', {
      scheduled: condition('PodScheduled') - created,
      containersStarted: Object.fromEntries(
        p.status.containerStatuses.map((c: any) => [c.name, at(c.state.running.startedAt) - created]),
      ),
      ready: condition('Ready') - created,
    });
  });

  it('no container restarted or was OOM-killed under the suite; memory against the manifest limits', async () => {
    const pods = JSON.parse(
      await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/name in (git-change-operator,gco-dev-git-server)',
        '-o',
        'json',
      ]),
    ).items;
    assert.equal(pods.length, 2);
    for (const p of pods) {
      for (const c of p.status.containerStatuses) {
        assert.equal(c.restartCount, 0, `${p.metadata.name}/${c.name} restarted: ${JSON.stringify(c.lastState)}`);
        const limit = p.spec.containers.find((s: any) => s.name === c.name).resources?.limits?.memory;
        const m = await podMemory(target.cluster.layout.cgroup, c.containerID);
        assert.ok(m.limitBytes > 0 && m.limitBytes < 2 ** 40, `${c.name}: the manifest's limit is applied`);
        figure(`${c.name} memory (MiB; limit ${limit})`, {
          rss: mib(m.rssBytes),
          maxUsageWithCache: mib(m.maxUsageBytes),
          limit: mib(m.limitBytes),
        });
      }
    }
  });

  it('the clones survive a deleted pod on their volume: the next commit fetches into them, no new clone', async () => {
    const repository = await new RemoteRepository(target, `e2e-pvc-${Date.now().toString(36)}/kept.git`).create();
    const commit = (name: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: repository.url },
        auth: { secretName: 'git-credentials' },
        commit: { author: 'E2E <e2e@gco.local>', message: name },
        files: [{ path: `${name}.txt`, content: `${name}\n` }],
      },
    });
    const commitAndWait = async (name: string) => {
      await kubectl(['apply', '-f', '-'], stringify(commit(name)));
      const r = await target.kubectl([
        'wait',
        '--for=condition=Ready',
        `gitcommit/${name}`,
        '-n',
        ns,
        '--timeout=120s',
      ]);
      assert.equal(r.code, 0, `${r.stderr}\n${await target.diagnostics()}`);
    };
    await commitAndWait('pvc-before');

    const claim = JSON.parse(await kubectl(['get', 'pvc', `clones-${pod}`, '-n', ns, '-o', 'json']));
    const volume = JSON.parse(await kubectl(['get', 'pv', claim.spec.volumeName, '-o', 'json']));
    const clonesDir = join(volume.spec.hostPath.path, 'clones');
    const clones = async () =>
      Object.fromEntries(
        await Promise.all(
          (await readdir(clonesDir))
            .filter((n) => !n.startsWith('.'))
            .map(async (n) => [n, (await stat(join(clonesDir, n))).ino] as const),
        ),
      );
    const before = await clones();
    assert.ok(Object.keys(before).length >= 1, 'the clone is on the claim');

    const first = await getPod();
    await kubectl(['delete', 'pod', pod, '-n', ns, '--wait=true']);
    let second: any;
    await waitFor(
      async () => {
        second = await getPod().catch(() => undefined);
        return second && second.metadata.uid !== first.metadata.uid && isReady(second);
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        describe: async () => `${pod} did not come back Ready\n${JSON.stringify(second?.status)}`,
      },
    );
    // The new sidecar found them on the volume as it started, before any job: the pod is Ready only once
    // the sidecar's readiness probe says it has checked its clones and listens.
    const metrics = await (await fetch(`http://${second.status.podIP}:8082/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`^gco_clones ${Object.keys(before).length}$`, 'm'),
      'the sidecar counts the clones',
    );

    await commitAndWait('pvc-after');
    await repository.fetch();
    assert.deepEqual((await repository.log('main', '%s')).slice(0, 2), ['pvc-after', 'pvc-before']);
    assert.equal(await repository.file('main', 'pvc-before.txt'), 'pvc-before\n');
    assert.equal(await repository.file('main', 'pvc-after.txt'), 'pvc-after\n');
    // Same directories, same inodes: the commit after the restart fetched into the surviving clone
    // (a clone is made in a new directory and renamed into place).
    assert.deepEqual(await clones(), before);
    const sidecarLog = await kubectl(['logs', pod, '-n', ns, '-c', 'git-sidecar']);
    assert.doesNotMatch(sidecarLog, /removing a broken clone/);
  });
});

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function figure(name: string, value: unknown): void {
  process.stderr.write(`[figure] ${name}: ${JSON.stringify(value)}\n`);
}
