// The scenarios against the operator as `helm install` of charts/git-change-operator installs it, on a
// real node of this suite's own (src/helm-node-target.ts): the chart's CRDs, its RBAC, its StatefulSet
// pod with the images the tests build, set through e2e/helm/values.yaml. Then what a Helm user does next:
// an upgrade with a changed value, an uninstall, and an install again over what the uninstall kept.
import assert from 'node:assert/strict';
import { waitFor } from '@gco/testenv';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectlOk, operatorNamespace as ns } from '../src/e2e-target.ts';
import { chart, type HelmNodeTarget, release, startHelmNodeTarget, valuesFile } from '../src/helm-node-target.ts';
import { oneFileCommit } from '../src/objects.ts';
import { RemoteRepository } from '../src/remote-repository.ts';
import { podMemory } from './container-cgroup.ts';
import { scenarios } from './scenarios.ts';

const pod = 'git-change-operator-0';
const claim = `clones-${pod}`;

describe("e2e on a real node: the users' scenarios against a helm install of charts/git-change-operator", function () {
  this.timeout(300_000);
  let target: HelmNodeTarget;
  let repository: RemoteRepository;
  scenarios(
    async () => {
      target = await startHelmNodeTarget();
      figure('own node up, CRDs from the chart (s)', target.seconds.cluster);
      figure('three images imported into the node (s)', target.seconds.images);
      figure('helm install --wait to the operator pod Ready (s)', target.seconds.install);
      figure('dev git server applied and rolled out (s)', target.seconds.gitServer);
      return target;
    },
    // Cold, buildImages first builds the base and the three images (images.test.ts allows as much).
    { startTimeoutMs: 3_600_000 },
  );

  const kubectl = (args: string[], input?: string) => kubectlOk(target, args, input);
  async function helm(args: string[]): Promise<string> {
    const r = await target.helm(args);
    assert.equal(r.code, 0, `helm ${args.join(' ')}: ${r.stderr}\n${await target.diagnostics()}`);
    return r.stdout;
  }
  const get = async (args: string[]) => JSON.parse(await kubectl(['get', ...args, '-o', 'json']));
  const getPod = async () => get(['pod', pod, '-n', ns]);
  const isReady = (o: any) => (o?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const container = (p: any, name: string) => p.spec.containers.find((c: any) => c.name === name);
  const releases = async () =>
    (JSON.parse(await helm(['list', '--namespace', ns, '-o', 'json'])) as any[]).map((r) => [r.name, r.status]);

  /** The pod that replaces `previous` (a uid), once Ready. */
  async function nextReadyPod(previous: string): Promise<any> {
    let p: any;
    await waitFor(
      async () => {
        p = await getPod().catch(() => undefined);
        return p && p.metadata.uid !== previous && isReady(p);
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        describe: async () => `no new Ready ${pod}: ${JSON.stringify(p?.status)}\n${await target.diagnostics()}`,
      },
    );
    return p;
  }

  /** A GitCommit of one file to this suite's repository, awaited Ready, and its commit on main. */
  async function commitAndCheck(name: string): Promise<void> {
    repository ??= await new RemoteRepository(target, `e2e-helm-${Date.now().toString(36)}/helm.git`).create();
    await kubectl(['apply', '-f', '-'], stringify(oneFileCommit(name, { url: repository.url })));
    const r = await target.kubectl(['wait', '--for=condition=Ready', `gitcommit/${name}`, '-n', ns, '--timeout=120s']);
    assert.equal(r.code, 0, `${r.stderr}\n${await target.diagnostics()}`);
    await repository.fetch();
    assert.equal((await repository.log('main', '%s'))[0], name);
    assert.equal(await repository.file('main', `${name}.txt`), `${name}\n`);
  }

  it("helm installed it: the release deployed, the CRDs from the chart, the pod Ready with the values file's images", async () => {
    assert.deepEqual(await releases(), [[release, 'deployed']]);
    const values = JSON.parse(await helm(['get', 'values', release, '--namespace', ns, '-o', 'json']));
    assert.equal(values.manager.image.tag, 'dev', `the values of ${valuesFile}`);
    // The node started without CRDs: these are the chart's crds/, installed by helm.
    for (const crd of ['gitcommits.gco.galos.one', 'pullrequests.gco.galos.one']) {
      const got = await get(['crd', crd]);
      assert.ok(
        got.status.conditions.some((c: any) => c.type === 'Established' && c.status === 'True'),
        crd,
      );
    }
    const namespace = await get(['namespace', ns]);
    assert.equal(namespace.metadata.annotations['meta.helm.sh/release-name'], release, 'the chart owns the namespace');
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');

    const p = await getPod();
    assert.ok(isReady(p), `${pod} is Ready`);
    assert.deepEqual(
      p.spec.containers.map((c: any) => c.image),
      ['git-change-operator:dev', 'git-change-operator-git-sidecar:dev'],
    );
    const sts = await get(['statefulset', 'git-change-operator', '-n', ns]);
    assert.equal(sts.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
    assert.equal(sts.spec.replicas, 1);
    // The chart's RBAC at work: the Lease written with the pod's ServiceAccount token.
    const lease = await get(['lease', 'git-change-operator', '-n', ns]);
    assert.match(lease.spec.holderIdentity ?? '', new RegExp(`^${pod}_`));
  });

  it('helm upgrade with changed values rolls the pod, which runs them and commits', async () => {
    const before = await getPod();
    assert.equal(container(before, 'manager').resources.limits.memory, '256Mi', 'the chart default before');
    const started = Date.now();
    await helm([
      'upgrade',
      release,
      chart,
      '--namespace',
      ns,
      '--reuse-values',
      '--set',
      'logLevel=debug',
      '--set',
      'manager.resources.limits.memory=512Mi',
      '--wait',
      '--timeout=5m',
    ]);
    const after = await nextReadyPod(before.metadata.uid);
    figure('helm upgrade --wait, then the new pod Ready (s)', (Date.now() - started) / 1000);
    const history = JSON.parse(await helm(['history', release, '--namespace', ns, '-o', 'json']));
    assert.deepEqual(
      history.map((h: any) => [h.revision, h.status]),
      [
        [1, 'superseded'],
        [2, 'deployed'],
      ],
    );
    for (const name of ['manager', 'git-sidecar'])
      assert.ok(container(after, name).args.includes('--log-level=debug'), name);
    assert.equal(container(after, 'manager').image, 'git-change-operator:dev', '--reuse-values kept the images');
    // The new limit as the kernel applies it to the running container.
    const managerStatus = after.status.containerStatuses.find((c: any) => c.name === 'manager');
    const memory = await podMemory(target.cluster.layout.cgroup, managerStatus.containerID);
    assert.equal(memory.limitBytes, 512 * 2 ** 20);
    await commitAndCheck('helm-upgraded');
  });

  it("helm uninstall removes the workload and keeps the CRDs, the namespace and the users' resources in it", async () => {
    const manifest = await helm(['get', 'manifest', release, '--namespace', ns]);
    const objects = parseAllDocuments(manifest)
      .map((d) => d.toJS() as any)
      .filter((o) => o?.kind);
    for (const kind of ['Namespace', 'StatefulSet', 'ServiceAccount', 'ClusterRole', 'Service'])
      assert.ok(
        objects.some((o) => o.kind === kind),
        `the release has a ${kind}`,
      );
    // Name and readiness of each GitCommit and PullRequest: the users' resources, and their status.
    const resources = async () =>
      (await get(['gitcommits,pullrequests', '-n', ns])).items
        .map((o: any) => `${o.kind}/${o.metadata.name} Ready=${isReady(o)}`)
        .sort();
    const kept = await resources();
    assert.equal(
      kept.filter((k: string) => k.startsWith('GitCommit/')).length,
      8,
      "the scenarios' seven and the upgrade's",
    );
    assert.equal(kept.filter((k: string) => k.startsWith('PullRequest/')).length, 1, "scenario 04's");
    const pvc = await get(['pvc', claim, '-n', ns]);

    const started = Date.now();
    await helm(['uninstall', release, '--namespace', ns, '--wait', '--timeout=5m']);
    const r = await target.kubectl(['wait', '--for=delete', `pod/${pod}`, '-n', ns, '--timeout=180s']);
    assert.equal(r.code, 0, r.stderr);
    figure('helm uninstall to the operator pod gone (s)', (Date.now() - started) / 1000);

    assert.deepEqual(await releases(), []);
    for (const o of objects) {
      const ref = [o.kind, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])];
      const left = await target.kubectl(['get', ...ref, '--ignore-not-found', '-o', 'name']);
      assert.equal(left.code, 0, left.stderr);
      if (o.kind === 'Namespace') assert.notEqual(left.stdout.trim(), '', 'the namespace is kept');
      else assert.equal(left.stdout.trim(), '', `${o.kind} ${o.metadata.name} is deleted`);
    }
    const namespace = await get(['namespace', ns]);
    assert.equal(namespace.metadata.deletionTimestamp, undefined, 'the namespace is not being deleted');
    for (const crd of ['gitcommits.gco.galos.one', 'pullrequests.gco.galos.one'])
      assert.ok((await get(['crd', crd])).metadata.uid);
    assert.deepEqual(await resources(), kept, 'every GitCommit and PullRequest, with its status');
    assert.ok((await get(['secret', 'git-credentials', '-n', ns])).metadata.uid, 'the credentials stay');
    assert.equal((await get(['pvc', claim, '-n', ns])).metadata.uid, pvc.metadata.uid, 'the clones stay');
  });

  it('a second helm install adopts the kept namespace and finds its clones; the operator commits again', async () => {
    const pvc = await get(['pvc', claim, '-n', ns]);
    const started = Date.now();
    await helm([
      'install',
      release,
      chart,
      '--namespace',
      ns,
      '--create-namespace',
      '--values',
      valuesFile,
      '--wait',
      '--timeout=5m',
    ]);
    const p = await nextReadyPod('');
    figure('second helm install --wait, then the pod Ready (s)', (Date.now() - started) / 1000);
    assert.deepEqual(await releases(), [[release, 'deployed']]);
    const volume = p.spec.volumes.find((v: any) => v.name === 'clones');
    assert.equal(volume.persistentVolumeClaim.claimName, claim);
    assert.equal((await get(['pvc', claim, '-n', ns])).metadata.uid, pvc.metadata.uid, 'the same claim');
    // The new sidecar counts the clones it finds on the volume as it starts (its metrics listener answers
    // before that count is taken, hence the wait).
    let metrics = '';
    await waitFor(
      async () => {
        metrics = await (await fetch(`http://${p.status.podIP}:8082/metrics`)).text();
        return /^gco_clones [1-9]\d*$/m.test(metrics);
      },
      { timeoutMs: 60_000, intervalMs: 250, describe: async () => `the sidecar counts no clones:\n${metrics}` },
    );
    await commitAndCheck('helm-reinstalled');
  });
});

function figure(name: string, value: unknown): void {
  process.stderr.write(`[figure] ${name}: ${JSON.stringify(value)}\n`);
}
