// The scenarios with the cluster target on the harness's real node: the images built from their
// Dockerfiles, manifests/overlays/e2e applied as users apply it, the operator a StatefulSet pod that
// authenticates with its projected ServiceAccount token. Then what only a pod has: its clone volume, and
// ssh run as the image's uid 65532 against a real sshd on this machine.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createBareRepository,
  generateSshKey,
  residentTogether,
  runOk,
  SshGitServer,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { stringify } from 'yaml';
import { kubectlOk, operatorNamespace as ns } from '../src/e2e-target.ts';
import { type NodeTarget, startNodeTarget } from '../src/node-target.ts';
import { oneFileCommit } from '../src/objects.ts';
import { RemoteRepository } from '../src/remote-repository.ts';
import { podMemory } from './container-cgroup.ts';
import { containerPid } from './container-process.ts';
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

  const kubectl = (args: string[], input?: string) => kubectlOk(target, args, input);
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
    // The operator pod's two containers run one Node binary, from the base layer their images share: the
    // kernel holds its pages once for both (README, "Memory": what the two processes take together).
    const operatorPod = pods.find((p: any) => p.metadata.labels['app.kubernetes.io/name'] === 'git-change-operator');
    const pids = await Promise.all(
      operatorPod.status.containerStatuses.map((c: any) => containerPid(target.cluster, c.containerID)),
    );
    assert.equal(pids.length, 2);
    const [manager, sidecar] = await Promise.all(pids.map((pid) => residentTogether([pid])));
    const together = await residentTogether(pids);
    const sharedMb = (manager?.fileMb ?? 0) + (sidecar?.fileMb ?? 0) - together.fileMb;
    const rounded = (mb: number | undefined) => Math.round((mb ?? 0) * 10) / 10;
    figure('operator pod, both processes (MB): each, and together with shared pages once', {
      manager: rounded(manager?.mb),
      sidecar: rounded(sidecar?.mb),
      together: rounded(together.mb),
      sharedFilePages: rounded(sharedMb),
    });
    assert.ok(
      sharedMb > 10,
      `the manager and the sidecar share ${sharedMb.toFixed(1)} MB of file pages (Node's binary)`,
    );
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
    const commit = (name: string) => oneFileCommit(name, { url: repository.url });
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

  // The sidecar's ssh runs as uid 65532 in the pod: without the image's passwd entry it would not even
  // start. The server is Debian's sshd on this machine, where pods reach it: the node's host address.
  describe("over SSH: the pod pushes to a real sshd on the node's host address, host keys verified", () => {
    let root: string;
    let ssh: SshGitServer;
    before(async () => {
      root = await tempDir('gco-e2e-ssh-');
      ssh = await new SshGitServer(join(root, 'repos'), { address: target.cluster.hostAddress }).start();
    });
    after(() => ssh?.stop());

    /** The kubernetes.io/ssh-auth layout with the known_hosts api.md requires. */
    const sshSecret = (name: string, knownHosts: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/ssh-auth',
      metadata: { name, namespace: ns },
      stringData: { 'ssh-privatekey': ssh.clientKey.privateKey, known_hosts: `${knownHosts}\n` },
    });
    const sshCommit = (name: string, repository: string, secretName: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: ssh.url(repository) },
        auth: { secretName },
        commit: { author: 'E2E SSH <ssh@gco.local>', message: `${name} over ssh` },
        files: [{ path: 'ssh/hello.txt', content: `${name} from a pod\n` }],
      },
    });
    /** The bare repository as sshd serves it, read on the server's disk. */
    const serverGit = (repository: string, args: string[]) =>
      runOk('git', ['--git-dir', join(root, 'repos', repository), ...args]).then((out) => out.trim());
    const getCommit = async (name: string) =>
      JSON.parse(await kubectl(['get', 'gitcommit', name, '-n', ns, '-o', 'json']));

    /** No line of the private key in either container's log, the GitCommit or its Events. */
    async function assertKeyNowhere(name: string): Promise<void> {
      const key = ssh.clientKey.privateKey;
      const body = key
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join('');
      // Past the first 120 characters, which every unencrypted ed25519 key shares ("openssh-key-v1",
      // no cipher, the key type); and as the Secret's data holds it, in base64.
      const fragments = [Buffer.from(key).toString('base64').slice(240, 300)];
      for (let i = 120; i + 40 <= body.length; i += 40) fragments.push(body.slice(i, i + 40));
      assert.ok(fragments.length >= 4, 'fragments of the key to look for');
      const texts: Record<string, string> = {
        'git-sidecar log': await kubectl(['logs', pod, '-n', ns, '-c', 'git-sidecar']),
        'manager log': await kubectl(['logs', pod, '-n', ns, '-c', 'manager']),
        [`GitCommit ${name}`]: JSON.stringify(await getCommit(name)),
        [`events of ${name}`]: await kubectl([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          `involvedObject.name=${name}`,
          '-o',
          'json',
        ]),
      };
      for (const [where, text] of Object.entries(texts)) {
        for (const f of fragments) assert.ok(!text.includes(f), `the private key appears in the ${where}`);
      }
    }

    it('commits through the shipped images: the commit lands in the bare repository with author and trailers', async () => {
      const repository = 'e2e/ssh.git';
      await createBareRepository(join(root, 'repos', repository), { files: 1 });
      await kubectl(
        ['apply', '-f', '-'],
        [sshSecret('ssh-credentials', ssh.knownHosts), sshCommit('ssh-commit', repository, 'ssh-credentials')]
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const r = await target.kubectl([
        'wait',
        '--for=condition=Ready',
        'gitcommit/ssh-commit',
        '-n',
        ns,
        '--timeout=120s',
      ]);
      assert.equal(
        r.code,
        0,
        `${r.stderr}\nstatus: ${JSON.stringify((await getCommit('ssh-commit')).status)}\n${await target.diagnostics()}`,
      );
      const status = (await getCommit('ssh-commit')).status;
      assert.equal(status.phase, 'Committed');
      assert.equal(await serverGit(repository, ['rev-parse', 'refs/heads/main']), status.commitSHA);
      assert.equal(await serverGit(repository, ['show', 'main:ssh/hello.txt']), 'ssh-commit from a pod');
      assert.equal(
        await serverGit(repository, ['log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', 'main']),
        'E2E SSH <ssh@gco.local>|E2E SSH <ssh@gco.local>|ssh-commit over ssh',
      );
      const trailers = await serverGit(repository, ['log', '-1', '--format=%(trailers:only,unfold)', 'main']);
      assert.match(trailers, new RegExp(`^Gco-Source: GitCommit/${ns}/ssh-commit$`, 'm'));
      assert.match(trailers, new RegExp(`^Gco-Execution: ${status.executionHistory[0].id}$`, 'm'));
      assert.equal(await serverGit(repository, ['rev-list', '--count', 'main']), '2', 'one commit on the first');
      await assertKeyNowhere('ssh-commit');
    });

    it("a known_hosts that does not match the server's host key stalls the GitCommit with HostKeyRejected, nothing pushed", async () => {
      const repository = 'e2e/impostor.git';
      await createBareRepository(join(root, 'repos', repository), { files: 1 });
      const before = await serverGit(repository, ['for-each-ref']);
      // The right name and port, another host's key: what a user sees when something answers in the server's place.
      const other = await generateSshKey(root, 'other-host');
      await kubectl(
        ['apply', '-f', '-'],
        [
          sshSecret('ssh-other-host', ssh.knownHostsWithKey(other.publicKey)),
          sshCommit('ssh-other-host', repository, 'ssh-other-host'),
        ]
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const r = await target.kubectl([
        'wait',
        '--for=condition=Stalled',
        'gitcommit/ssh-other-host',
        '-n',
        ns,
        '--timeout=120s',
      ]);
      const obj = await getCommit('ssh-other-host');
      assert.equal(r.code, 0, `${r.stderr}\nstatus: ${JSON.stringify(obj.status)}\n${await target.diagnostics()}`);
      const ready = obj.status.conditions.find((c: any) => c.type === 'Ready');
      assert.equal(ready.status, 'False');
      assert.equal(ready.reason, 'HostKeyRejected');
      assert.equal(obj.status.phase, 'Failed');
      // ssh's own words, naming the server: git's last line alone ("Could not read from remote
      // repository") would not tell the user that the host key is the problem.
      assert.match(obj.status.message, /Host key verification failed/);
      assert.ok(obj.status.message.includes(`[${ssh.address}]:${ssh.port}`), obj.status.message);
      assert.equal(obj.status.retryCount ?? 0, 0, 'permanent: no retry loop');
      const events = JSON.parse(
        await kubectl([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          'involvedObject.name=ssh-other-host',
          '-o',
          'json',
        ]),
      ).items;
      assert.ok(
        events.some((e: any) => e.type === 'Warning' && e.reason === 'HostKeyRejected'),
        JSON.stringify(events.map((e: any) => [e.type, e.reason, e.message])),
      );
      assert.equal(await serverGit(repository, ['for-each-ref']), before, 'nothing pushed');
      await assertKeyNowhere('ssh-other-host');
    });
  });
});

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function figure(name: string, value: unknown): void {
  process.stderr.write(`[figure] ${name}: ${JSON.stringify(value)}\n`);
}
