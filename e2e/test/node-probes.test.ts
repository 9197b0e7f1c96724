// The probes of the shipped StatefulSet (manifests/overlays/e2e, one replica) failing for real on the
// harness's node, and the kubelet acting on them. A container's main process is frozen from the host
// with SIGSTOP, as a hung process would be (its port accepts connections, nothing answers): its readiness
// probe fails and the pod turns NotReady, then its liveness probe fails and the kubelet kills and restarts
// that container alone; the pod turns Ready again, and a GitCommit made while the process was frozen is
// committed exactly once. At the end the pod is recreated (see `after`).
import assert from 'node:assert/strict';
import { assertExactlyOnce, commitsWithTrailers, reportedExecutions, waitFor } from '@gco/testenv';
import { stringify } from 'yaml';
import { kubectlOk, operatorNamespace as ns } from '../src/e2e-target.ts';
import { type NodeTarget, startNodeTarget } from '../src/node-target.ts';
import { oneFileCommit, tokenSecret } from '../src/objects.ts';
import { RemoteRepository } from '../src/remote-repository.ts';
import { commandLine, containerPid, freeze, processState, thaw } from './container-process.ts';

const pod = 'git-change-operator-0';
const secretName = 'probe-credentials';
const label = 'gco.test/probes';
const identityOf = new RegExp(`^${pod}_[0-9a-f-]{36}$`);

describe('e2e on a real node: the probes of manifests/overlays/e2e failing and recovering', function () {
  this.timeout(600_000);
  let target: NodeTarget;
  /** Processes this file froze and the kubelet has not killed yet: thawed whatever happens. */
  const frozen = new Set<number>();

  const kubectl = (args: string[], input?: string) => kubectlOk(target, args, input);
  const getPod = async (): Promise<any> => JSON.parse(await kubectl(['get', 'pod', pod, '-n', ns, '-o', 'json']));
  const condition = (p: any, type: string) => (p.status?.conditions ?? []).find((c: any) => c.type === type);
  const isReady = (p: any) => condition(p, 'Ready')?.status === 'True';
  const container = (p: any, name: string) => p.status.containerStatuses.find((c: any) => c.name === name);
  const restartCounts = (p: any): Record<string, number> =>
    Object.fromEntries(p.status.containerStatuses.map((c: any) => [c.name, c.restartCount]));
  const lease = async (): Promise<any> =>
    JSON.parse(await kubectl(['get', 'lease', 'git-change-operator', '-n', ns, '-o', 'json'])).spec;
  const holder = async (): Promise<string> => (await lease()).holderIdentity ?? '';

  before(async function () {
    // Cold, buildImages first builds the base and the three images (images.test.ts allows as much).
    this.timeout(3_600_000);
    target = await startNodeTarget();
    await kubectl(['apply', '-f', '-'], stringify(tokenSecret(secretName, target.token)));
  });

  afterEach(() => {
    for (const pid of frozen) thaw(pid);
    frozen.clear();
  });

  after(async function () {
    this.timeout(300_000);
    if (!target) return;
    // As the next file on the shared node expects the install: without this file's objects, and with a
    // pod none of whose containers ever restarted (node.test.ts asserts restartCount 0 over its whole
    // run, which a count relative to this file's restarts would weaken). Deleting the pod is what gives
    // fresh containers; the StatefulSet makes it again, and it must lead before the next file starts.
    await kubectl(['delete', 'gitcommits', '-n', ns, '-l', label, '--wait=true']);
    await kubectl(['delete', 'secret', secretName, '-n', ns, '--ignore-not-found']);
    const old = await getPod();
    const oldHolder = await holder();
    await kubectl(['delete', 'pod', pod, '-n', ns, '--wait=true']);
    let fresh: any;
    await waitFor(
      async () => {
        fresh = await getPod();
        return fresh.metadata.uid !== old.metadata.uid && isReady(fresh);
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        describe: async () => `${pod} did not come back Ready: ${JSON.stringify(fresh?.status)}`,
      },
    );
    await waitFor(async () => identityOf.test(await holder()) && (await holder()) !== oldHolder, {
      timeoutMs: 120_000,
      intervalMs: 500,
      describe: async () => `the new ${pod} does not lead: ${await holder()}`,
    });
    assert.deepEqual(Object.values(restartCounts(fresh)), [0, 0]);
    await target.stop();
  });

  /** A GitCommit adding one file to main of `repository`. */
  const applyCommit = (name: string, repository: RemoteRepository) =>
    kubectl(
      ['apply', '-f', '-'],
      stringify(oneFileCommit(name, { url: repository.url, secretName, branch: 'main', labels: { [label]: 'true' } })),
    );

  /** The GitCommit turns Ready, its execution made exactly one commit, and the repository holds no other. */
  async function committedOnce(name: string, repository: RemoteRepository): Promise<void> {
    const waited = await target.kubectl([
      'wait',
      '--for=condition=Ready',
      `gitcommit/${name}`,
      '-n',
      ns,
      '--timeout=180s',
    ]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${await target.diagnostics()}`);
    await repository.fetch();
    const commits = await commitsWithTrailers(await repository.gitDir());
    const reported = reportedExecutions(await kubectl(['get', 'gitcommit', name, '-n', ns, '-o', 'json']));
    assertExactlyOnce(commits, reported);
    assert.deepEqual(
      reported[0]?.history.map((h) => h.result),
      ['Committed'],
      `${name}: one execution, committed`,
    );
    assert.equal(commits.length, 1, 'one commit, no more');
    assert.equal(await repository.file('main', `${name}.txt`), `${name}\n`);
  }

  /**
   * The kubelet's count of one container's probe results (prober_probe_total on its /metrics/probes,
   * through the API server's node proxy). Rather than its events: the kubelet's spam filter lets a pod's object emit 25
   * events, then one per 5 minutes, and every failed probe is one, so on a pod that already had some
   * the probe events of the second freeze are dropped.
   */
  async function probeResults(uid: string, name: string): Promise<Record<string, number>> {
    const text = await kubectl(['get', '--raw', `/api/v1/nodes/${target.cluster.nodeName}/proxy/metrics/probes`]);
    const counts: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^prober_probe_total\{([^}]*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      if (labels.pod_uid !== uid || labels.container !== name) continue;
      counts[`${labels.probe_type} ${labels.result}`] = Number(m[2]);
    }
    return counts;
  }

  /**
   * Freezes the main process of one container, runs `whileFrozen`, and waits for the kubelet to have
   * restarted that container and the pod to be Ready again; asserts how it got there and prints when.
   */
  async function freezeUntilRestarted(
    name: 'manager' | 'git-sidecar',
    command: RegExp,
    whileFrozen: () => Promise<unknown>,
  ): Promise<{ frozenAt: number }> {
    const before = await getPod();
    assert.ok(isReady(before), `${pod} is Ready before the freeze: ${JSON.stringify(before.status?.conditions)}`);
    const restarts = restartCounts(before);
    const pid = await containerPid(target.cluster, container(before, name).containerID);
    assert.match(await commandLine(pid), command, `PID ${pid} is the ${name} container's main process`);

    const probed = await probeResults(before.metadata.uid, name);

    const frozenAt = Date.now();
    await freeze(pid);
    frozen.add(pid);
    await whileFrozen();

    let notReadySince: string | undefined;
    // The frozen container itself reported not ready (its readiness probe's verdict) before it was killed.
    let frozenNotReady = false;
    let after: any;
    await waitFor(
      async () => {
        after = await getPod();
        const ready = condition(after, 'Ready');
        if (ready?.status !== 'True') notReadySince ??= ready?.lastTransitionTime;
        const status = container(after, name);
        if (status.containerID === container(before, name).containerID && status.ready === false) frozenNotReady = true;
        return (
          notReadySince !== undefined && container(after, name).restartCount > (restarts[name] ?? 0) && isReady(after)
        );
      },
      {
        // Liveness period × failure threshold, the kill's grace, the restart and readiness, with room.
        timeoutMs: 420_000,
        intervalMs: 500,
        describe: async () =>
          `${name} was not restarted, or the pod did not turn Ready again: ${JSON.stringify(after?.status)}\n` +
          (await target.diagnostics()),
      },
    );
    frozen.delete(pid);

    assert.equal(after.metadata.uid, before.metadata.uid, 'the same pod: the container was restarted in place');
    assert.deepEqual(
      restartCounts(after),
      { ...restarts, [name]: (restarts[name] ?? 0) + 1 },
      `${name} restarted once, the other container not at all`,
    );
    assert.equal(await processState(pid), undefined, 'the frozen process is gone');
    assert.ok(notReadySince, 'the pod turned NotReady');
    assert.ok(frozenNotReady, `the frozen ${name} was reported not ready before it was killed`);
    const restarted = container(after, name);
    assert.deepEqual(
      [restarted.lastState?.terminated?.reason, restarted.lastState?.terminated?.exitCode],
      ['Error', 137],
      `SIGKILLed (not OOM-killed): the SIGTERM stayed pending while it was frozen (${JSON.stringify(restarted.lastState)})`,
    );
    const spec = after.spec.containers.find((c: any) => c.name === name);
    const s = (time: string) => Math.round(Date.parse(time) / 1000 - frozenAt / 1000);
    figure(`${name} frozen (SIGSTOP), s after the freeze at the API's 1 s resolution`, {
      notReady: s(notReadySince ?? ''),
      killed: s(restarted.lastState.terminated.finishedAt),
      restarted: s(restarted.state.running.startedAt),
      readyAgain: s(condition(after, 'Ready').lastTransitionTime),
      liveness: probeTimings(spec.livenessProbe, after.spec.terminationGracePeriodSeconds),
      readiness: probeTimings(spec.readinessProbe),
    });
    const probes = await probeResults(after.metadata.uid, name);
    const failed = (type: string) => (probes[`${type} failed`] ?? 0) - (probed[`${type} failed`] ?? 0);
    assert.ok(
      failed('Readiness') >= (spec.readinessProbe.failureThreshold ?? 3),
      `readiness probes failed: ${JSON.stringify(probes)}`,
    );
    assert.ok(
      failed('Liveness') >= (spec.livenessProbe.failureThreshold ?? 3),
      `liveness probes failed: ${JSON.stringify(probes)}`,
    );
    return { frozenAt };
  }

  it('the git sidecar frozen: NotReady, restarted by its liveness probe, Ready again; a GitCommit made meanwhile commits once', async () => {
    const repository = await new RemoteRepository(target, `e2e-probes-${Date.now().toString(36)}/sidecar.git`).create();
    await freezeUntilRestarted('git-sidecar', /^node --conditions=gco-compiled git-sidecar\/dist\/main\.js /, () =>
      applyCommit('probe-sidecar-frozen', repository),
    );
    await committedOnce('probe-sidecar-frozen', repository);
  });

  it('the manager frozen: restarted by its liveness probe, it leads again under a new identity; a GitCommit made meanwhile commits once', async () => {
    const repository = await new RemoteRepository(target, `e2e-probes-${Date.now().toString(36)}/manager.git`).create();
    const identity = await holder();
    assert.match(identity, identityOf);
    const { frozenAt } = await freezeUntilRestarted(
      'manager',
      /^node --conditions=gco-compiled operator\/dist\/main\.js /,
      () => applyCommit('probe-manager-frozen', repository),
    );
    let leader: any;
    await waitFor(
      async () => {
        leader = await lease();
        return identityOf.test(leader.holderIdentity ?? '') && leader.holderIdentity !== identity;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 250,
        describe: async () => `the restarted manager does not lead: ${JSON.stringify(leader)}`,
      },
    );
    // acquireTime is a MicroTime: it changes only when the holder does.
    figure('manager frozen: the restarted manager leads (s after the freeze)', {
      acquired: Math.round((Date.parse(leader.acquireTime) - frozenAt) / 100) / 10,
      leaseDurationSeconds: leader.leaseDurationSeconds,
    });
    await committedOnce('probe-manager-frozen', repository);
  });
});

/** A probe's timings as the figures print them. */
function probeTimings(probe: any, podGrace?: number) {
  if (!probe) return undefined;
  return {
    periodSeconds: probe.periodSeconds,
    failureThreshold: probe.failureThreshold,
    timeoutSeconds: probe.timeoutSeconds,
    ...(podGrace === undefined ? {} : { killGraceSeconds: probe.terminationGracePeriodSeconds ?? podGrace }),
  };
}

function figure(name: string, value: unknown): void {
  process.stderr.write(`[figure] ${name}: ${JSON.stringify(value)}\n`);
}
