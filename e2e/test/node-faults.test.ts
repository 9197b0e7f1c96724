// The production overlay on the harness's real node, installed as a user would with the images of
// this build: two replicas with leader election. The leader pod is killed (force-deleted), its manager
// process is killed with SIGKILL inside the pod, and the pod is terminated gracefully, each in the middle
// of a burst of GitCommits: every GitCommit becomes Ready and
// every execution made exactly one commit, by the commits' Gco-Source/Gco-Execution trailers.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { assertExactlyOnce, commitsWithTrailers, repoRoot, reportedExecutions, tempDir, waitFor } from '@gco/testenv';
import { stringify } from 'yaml';
import { kubectlOk, operatorNamespace as ns } from '../src/e2e-target.ts';
import { type NodeTarget, startNodeTarget } from '../src/node-target.ts';
import { tokenSecret } from '../src/objects.ts';
import { RemoteRepository } from '../src/remote-repository.ts';
import { signalContainer } from './container-cgroup.ts';

const burstSize = 20;
const app = 'app.kubernetes.io/name=git-change-operator';
const secretName = 'fault-credentials';

describe('e2e on a real node: manifests/overlays/production (two replicas) under pod faults', function () {
  this.timeout(300_000);
  let target: NodeTarget;

  const kubectl = (args: string[], input?: string) => kubectlOk(target, args, input);
  const isReady = (o: any) => (o.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const operatorPods = async (): Promise<any[]> =>
    JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', app, '-o', 'json'])).items;
  const holder = async (): Promise<string> =>
    JSON.parse(await kubectl(['get', 'lease', 'git-change-operator', '-n', ns, '-o', 'json'])).spec.holderIdentity ??
    '';
  /** Holder identities are `<pod>_<suffix>` (node.test.ts checks the form). */
  const podOf = (identity: string) => identity.replace(/_[^_]*$/, '');

  /** Both replicas Ready, none of them a pod that was deleted. */
  async function bothReady(gone = new Set<string>()): Promise<void> {
    let pods: any[] = [];
    await waitFor(
      async () => {
        pods = await operatorPods();
        return pods.length === 2 && pods.every((p) => isReady(p) && !gone.has(p.metadata.uid));
      },
      {
        timeoutMs: 240_000,
        intervalMs: 500,
        describe: async () =>
          `the two replicas are not Ready: ${JSON.stringify(pods.map((p) => [p.metadata.name, p.status?.phase, p.status?.conditions]))}\n${await target.diagnostics()}`,
      },
    );
  }

  before(async function () {
    // Cold, buildImages first builds the base and the three images (images.test.ts allows as much).
    this.timeout(3_600_000);
    target = await startNodeTarget();
    // What a user writes to run the shipped production overlay with their own images: a kustomization
    // of their own that references it (here with the development git server, for the suite to commit to).
    const dir = await tempDir('gco-e2e-production-');
    const manifests = (path: string) => relative(dir, join(repoRoot, 'manifests', path));
    await writeFile(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [manifests('overlays/production'), manifests('dev/git-server')],
        images: ['git-change-operator', 'git-change-operator-git-sidecar', 'gco-dev-git-server'].map((name) => ({
          name,
          newTag: 'dev',
        })),
      }),
    );
    await kubectl(['apply', '--server-side', '--force-conflicts', '-k', dir]);
    const replicas = JSON.parse(await kubectl(['get', 'statefulset', 'git-change-operator', '-n', ns, '-o', 'json']))
      .spec.replicas;
    assert.equal(replicas, 2, 'the production overlay runs two replicas');
    await bothReady();
    await kubectl(['apply', '-f', '-'], stringify(tokenSecret(secretName, target.token)));
  });

  after(async function () {
    this.timeout(300_000);
    if (!target) return;
    // Back to the e2e overlay's single replica for what runs next on the same node, led by its pod.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-k', join(repoRoot, 'manifests/overlays/e2e')]);
    await kubectl(['wait', '--for=delete', 'pod/git-change-operator-1', '-n', ns, '--timeout=180s']);
    await waitFor(async () => podOf(await holder()) === 'git-change-operator-0', {
      timeoutMs: 120_000,
      intervalMs: 500,
      describe: async () => `git-change-operator-0 did not lead: ${await holder()}`,
    });
    await target.stop();
  });

  /** GitCommits `<prefix>-<from>` to `<prefix>-<to - 1>`, each adding its own file to main, applied at once. */
  const apply = (repository: RemoteRepository, prefix: string, from: number, to: number) =>
    kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: Array.from({ length: to - from }, (_, k) => {
          const i = from + k;
          return {
            apiVersion: 'gco.galos.one/v1',
            kind: 'GitCommit',
            metadata: { name: `${prefix}-${i}`, namespace: ns, labels: { 'gco.test/burst': prefix } },
            spec: {
              repository: { url: repository.url, branch: 'main' },
              auth: { secretName },
              commit: { author: 'E2E <e2e@gco.local>', message: `${prefix} ${i}` },
              files: [{ path: `${prefix}/${i}.txt`, content: `${i}\n` }],
            },
          };
        }),
      }),
    );

  async function landed(repository: RemoteRepository): Promise<number> {
    await repository.fetch();
    return (await commitsWithTrailers(await repository.gitDir())).length;
  }

  /**
   * The first half of the burst, the fault once its first commit has landed, the second half while the
   * leader is going; then every GitCommit Ready, each with one execution and that execution one commit.
   * Returns when the lease changed hands after the fault (ms) and what `fault` returned.
   */
  async function faultMidBurst<T>(
    prefix: string,
    fault: (leader: any) => Promise<T>,
    { podReplaced = true } = {},
  ): Promise<{ failoverMs: number; result: T; landedBefore: number }> {
    const repository = await new RemoteRepository(
      target,
      `e2e-${prefix}-${Date.now().toString(36)}/burst.git`,
    ).create();
    const identity = await holder();
    const leader = (await operatorPods()).find((p) => p.metadata.name === podOf(identity));
    assert.ok(leader, `the Lease's holder ${identity} is one of the replicas`);

    await apply(repository, prefix, 0, burstSize / 2);
    let landedBefore = 0;
    await waitFor(
      async () => {
        landedBefore = await landed(repository);
        return landedBefore > 0;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 100,
        describe: async () => `no commit of ${prefix} landed\n${await target.diagnostics()}`,
      },
    );
    // Mid-burst by construction: commits of the first half are landing, the second half is created
    // while the leader goes, for whichever replica leads next.
    const faultAt = Date.now();
    let failoverMs = 0;
    const takeover = waitFor(
      async () => {
        const now = await holder();
        if (now === '' || now === identity) return false;
        failoverMs = Date.now() - faultAt;
        return true;
      },
      { timeoutMs: 180_000, intervalMs: 100, describe: async () => `the lease stayed with ${await holder()}` },
    ).then(
      () => undefined,
      (error: Error) => error,
    );
    const [result] = await Promise.all([fault(leader), apply(repository, prefix, burstSize / 2, burstSize)]);
    const notTaken = await takeover;
    if (notTaken) throw notTaken;

    const waited = await target.kubectl([
      'wait',
      '--for=condition=Ready',
      'gitcommits',
      '-l',
      `gco.test/burst=${prefix}`,
      '-n',
      ns,
      '--timeout=180s',
    ]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${await target.diagnostics()}`);
    await repository.fetch();
    const commits = await commitsWithTrailers(await repository.gitDir());
    const reported = reportedExecutions(
      await kubectl(['get', 'gitcommits', '-n', ns, '-l', `gco.test/burst=${prefix}`, '-o', 'json']),
    );
    assert.equal(reported.length, burstSize);
    assertExactlyOnce(commits, reported);
    for (const r of reported)
      assert.deepEqual(
        r.history.map((h) => h.result),
        ['Committed'],
        `${r.source}: one execution, committed`,
      );
    assert.equal(commits.length, burstSize, 'one commit per GitCommit, no more');
    for (let i = 0; i < burstSize; i++) assert.equal(await repository.file('main', `${prefix}/${i}.txt`), `${i}\n`);

    await bothReady(podReplaced ? new Set([leader.metadata.uid]) : undefined);
    return { failoverMs, result, landedBefore };
  }

  it('the leader pod is killed (force-deleted) mid-burst: the other replica finishes it, exactly once', async () => {
    const { failoverMs, landedBefore } = await faultMidBurst('kill', (leader) =>
      kubectl(['delete', 'pod', leader.metadata.name, '-n', ns, '--grace-period=0', '--force', '--wait=false']),
    );
    // Not the 15 s lease expiring: force deletion removes the object at once, but the kubelet still stops
    // the containers with SIGTERM (its minimum grace, 2 s, before SIGKILL), and the manager releases.
    figure('failover after the leader pod was force-deleted (ms)', { failoverMs, landedBefore });
  });

  it("the leader's manager is killed with SIGKILL inside its pod mid-burst: its Lease expires, exactly once", async () => {
    const lease = JSON.parse(await kubectl(['get', 'lease', 'git-change-operator', '-n', ns, '-o', 'json'])).spec;
    let restartsBefore = 0;
    const { failoverMs, landedBefore } = await faultMidBurst(
      'sigkill',
      async (leader) => {
        const manager = leader.status.containerStatuses.find((c: any) => c.name === 'manager');
        restartsBefore = manager.restartCount;
        // As the kernel's OOM killer would: no SIGTERM, no release; only the Lease's expiry frees it.
        await signalContainer(target.cluster.layout.cgroup, manager.containerID, 'SIGKILL');
      },
      { podReplaced: false },
    );
    const leader = (await operatorPods()).find((p) =>
      p.status.containerStatuses.some((c: any) => c.name === 'manager' && c.restartCount > restartsBefore),
    );
    assert.ok(leader, 'the kubelet restarted the killed manager in its pod');
    // Nobody may take a Lease that was not released before it expired (observed time, as client-go).
    assert.ok(
      failoverMs >= (lease.leaseDurationSeconds - 2) * 1000,
      `taken over after ${failoverMs} ms, before the ${lease.leaseDurationSeconds} s lease could expire`,
    );
    figure('failover after SIGKILL of the leader manager (ms)', {
      failoverMs,
      leaseDurationMs: lease.leaseDurationSeconds * 1000,
      landedBefore,
    });
  });

  it('the leader pod is deleted (SIGTERM) mid-burst: it ends within its grace period, nothing lost', async () => {
    const grace = JSON.parse(await kubectl(['get', 'statefulset', 'git-change-operator', '-n', ns, '-o', 'json'])).spec
      .template.spec.terminationGracePeriodSeconds;
    const { failoverMs, result, landedBefore } = await faultMidBurst('sigterm', async (leader) => {
      const started = Date.now();
      // Waits until the pod object is gone: the kubelet has seen both containers exit.
      await kubectl(['delete', 'pod', leader.metadata.name, '-n', ns, '--wait=true', '--timeout=300s']);
      return Date.now() - started;
    });
    // The task's own bound: a pod still running at the grace period's end would have been SIGKILLed.
    assert.ok(result < grace * 1000, `the pod took ${result} ms to terminate; its grace period is ${grace} s`);
    figure('graceful leader deletion mid-burst (ms)', {
      terminationMs: result,
      grace: grace * 1000,
      failoverMs,
      landedBefore,
    });
  });
});

function figure(name: string, value: unknown): void {
  process.stderr.write(`[figure] ${name}: ${JSON.stringify(value)}\n`);
}
