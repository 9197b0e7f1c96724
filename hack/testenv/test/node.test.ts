import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import {
  Cluster,
  kubernetesServiceIp,
  type NodeLayout,
  repoRoot,
  runOk,
  sharedCluster,
  statusCode,
  waitFor,
} from '../src/index.ts';
import { confined, confinedPod } from './fixtures/node-pods.ts';

function inSubnet(ip: string, subnet: string): boolean {
  // The node's subnets are /24s (hack/node/node.sh).
  const [base] = subnet.split('/');
  return ip.split('.').slice(0, 3).join('.') === base?.split('.').slice(0, 3).join('.');
}

describe('a real node', function () {
  this.timeout(180_000);
  const namespace = 'node-test';
  let cluster: Cluster;
  let core: k8s.CoreV1Api;

  before(async function () {
    this.timeout(300_000);
    cluster = await sharedCluster();
    core = cluster.plane.admin().makeApiClient(k8s.CoreV1Api);
    await cluster.createNamespace(namespace);
  });

  async function waitForPod(name: string, done: (pod: k8s.V1Pod) => boolean): Promise<k8s.V1Pod> {
    let last: k8s.V1Pod | undefined;
    await waitFor(
      async () => {
        last = await core.readNamespacedPod({ namespace, name });
        return done(last);
      },
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        describe: async () => `pod ${name} is ${JSON.stringify(last?.status, null, 1)}\n${await cluster.diagnostics()}`,
      },
    );
    return last as k8s.V1Pod;
  }

  const ready = (pod: k8s.V1Pod) =>
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

  it('turns Ready, with the bridge as its InternalIP and the kubernetes Service on the API server', async () => {
    const node = await core.readNode({ name: cluster.nodeName });
    assert.ok((node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.deepEqual(
      node.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address),
      [cluster.dnsAddress],
    );
    assert.equal(node.status?.nodeInfo?.containerRuntimeVersion?.startsWith('containerd://2.'), true);
    const discovery = cluster.plane.admin().makeApiClient(k8s.DiscoveryV1Api);
    const slices = await discovery.listNamespacedEndpointSlice({
      namespace: 'default',
      labelSelector: 'kubernetes.io/service-name=kubernetes',
    });
    assert.deepEqual(
      slices.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)),
      [cluster.hostAddress],
    );
  });

  it('runs a confined pod on the bridge that resolves cluster names and reads the API with its token', async () => {
    const rbac = cluster.plane.admin().makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'probe' } } });
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'probe' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace }],
      },
    });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'seen-from-a-pod' } } });
    await core.createNamespacedPod({
      namespace,
      body: confinedPod('report', cluster.probeImage, ['report'], 'probe'),
    });

    const pod = await waitForPod('report', (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed');
    assert.equal(pod.status?.phase, 'Succeeded');
    // Its own network namespace on the bridge, not the node's.
    const podIp = pod.status?.podIP ?? '';
    assert.ok(inSubnet(podIp, cluster.layout.podSubnet), `${podIp} is not in ${cluster.layout.podSubnet}`);
    assert.notEqual(podIp, cluster.dnsAddress);

    // Logs come through the API server from the kubelet, as `kubectl logs` gets them.
    const report = JSON.parse(await core.readNamespacedPodLog({ namespace, name: 'report' })) as {
      uid: number;
      capEff: string;
      seccomp: string;
      noNewPrivs: string;
      rootWrite: string;
      resolvConf: string;
      dns: Record<string, { addresses?: string[]; error?: string }>;
      api: { url: string; status?: number; configMaps?: string[]; error?: string };
    };
    assert.equal(report.uid, 65532);
    assert.equal(report.capEff, '0000000000000000');
    assert.equal(report.seccomp, '2', 'seccomp filter mode (RuntimeDefault)');
    assert.equal(report.noNewPrivs, '1');
    assert.match(report.rootWrite, /read-only file system/);
    assert.deepEqual(
      report.resolvConf.split('\n').filter((l) => l.startsWith('nameserver')),
      [`nameserver ${cluster.dnsAddress}`],
    );
    assert.deepEqual(report.dns['kubernetes.default.svc.cluster.local'], { addresses: [kubernetesServiceIp] });
    assert.deepEqual(report.dns['kubernetes.default'], { addresses: [kubernetesServiceIp] });
    assert.ok(report.dns['example.com']?.error, 'cluster DNS must not resolve names outside the cluster');
    assert.equal(report.api.url, `https://${kubernetesServiceIp}:443/api/v1/namespaces/${namespace}/configmaps`);
    assert.equal(report.api.error, undefined);
    assert.equal(report.api.status, 200);
    assert.deepEqual(report.api.configMaps?.sort(), ['kube-root-ca.crt', 'seen-from-a-pod']);
  });

  it("binds a StatefulSet's volumeClaimTemplate, keeps the data across a pod deletion, frees it with the claim", async () => {
    const apps = cluster.plane.admin().makeApiClient(k8s.AppsV1Api);
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'store' }, spec: { clusterIP: 'None', selector: { app: 'store' } } },
    });
    await apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: 'store' },
        spec: {
          serviceName: 'store',
          replicas: 1,
          selector: { matchLabels: { app: 'store' } },
          template: {
            metadata: { labels: { app: 'store' } },
            spec: {
              terminationGracePeriodSeconds: 5,
              containers: [
                {
                  name: 'probe',
                  image: cluster.probeImage,
                  imagePullPolicy: 'Never',
                  args: ['sleep'],
                  securityContext: confined,
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
            },
          },
          // No storageClassName: the default StorageClass's.
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } },
            },
          ],
        },
      },
    });
    const first = await waitForPod('store-0', ready);
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace, name: 'data-store-0' });
    assert.equal(claim.status?.phase, 'Bound');
    assert.equal(claim.spec?.storageClassName, Cluster.storageClassName);

    const kubectl = (args: string[]) => cluster.plane.kubectl(['-n', namespace, ...args]);
    const marker = randomBytes(8).toString('hex');
    const write = await kubectl(['exec', 'store-0', '--', '/probe', 'write', '/data/marker', marker]);
    assert.equal(write.code, 0, write.stderr);

    await core.deleteNamespacedPod({ namespace, name: 'store-0' });
    const second = await waitForPod('store-0', (p) => p.metadata?.uid !== first.metadata?.uid && ready(p));
    assert.notEqual(second.metadata?.uid, first.metadata?.uid);
    const read = await kubectl(['exec', 'store-0', '--', '/probe', 'cat', '/data/marker']);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, marker);

    // Released with its claim: the volume and its data go, as with a user's cluster's provisioner.
    const volume = await core.readPersistentVolume({ name: claim.spec?.volumeName ?? '' });
    const path = volume.spec?.hostPath?.path ?? '';
    assert.ok(existsSync(join(path, 'marker')));
    await apps.deleteNamespacedStatefulSet({ namespace, name: 'store' });
    await core.deleteNamespacedPersistentVolumeClaim({ namespace, name: 'data-store-0' });
    await waitFor(
      async () => {
        await core.readPersistentVolume({ name: volume.metadata?.name ?? '' }).then(
          () => assert.fail('still there'),
          (e) => assert.equal(statusCode(e), 404),
        );
        return !existsSync(path);
      },
      { timeoutMs: 60_000, describe: async () => `the released volume stays\n${await cluster.diagnostics()}` },
    );
  });
});

describe('a node of a run killed half-way', function () {
  this.timeout(300_000);

  async function hostState() {
    const sysctls = await Promise.all(
      ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'].map((s) => readFile(`/proc/sys/${s}`, 'utf8')),
    );
    return { sysctls };
  }

  /** Running, that is: neither gone nor a zombie that init has yet to reap. */
  async function alive(pid: number): Promise<boolean> {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  }
  const running = async (pids: number[]) =>
    (await Promise.all(pids.map(async (pid) => ((await alive(pid)) ? [pid] : [])))).flat();

  it('is removed by `node.sh down --all`, leaving nothing on the machine', async () => {
    const before = await hostState();
    const child = spawn(
      join(repoRoot, 'node_modules/.bin/node'),
      [join(import.meta.dirname, 'fixtures/start-node-and-wait.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    try {
      const deadline = Date.now() + 240_000;
      while (!out.includes('\n')) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the node did not start:\n${err}`);
        await sleep(200);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        // Killed outright: no exit handler runs, every node process and the pod stay behind.
        child.kill('SIGKILL');
        await exited;
      }
    }
    const { layout, pids } = JSON.parse(out) as { layout: NodeLayout; pids: number[] };
    assert.equal(pids.length, 8, 'node and control plane processes');
    assert.deepEqual(await running(pids), pids, 'the node processes outlive a killed run');
    assert.ok(existsSync(layout.stateDir));

    await runOk('bash', [join(repoRoot, 'hack/node/node.sh'), 'down', '--all'], { timeoutMs: 120_000 });

    assert.deepEqual(await running(pids), []);
    assert.equal(existsSync(`/sys/fs/cgroup/pids/${layout.cgroup}`), false, 'every process of the slot is gone');
    assert.equal(existsSync(`/run/netns/${layout.netns}`), false);
    assert.doesNotMatch(await runOk('ip', ['-br', 'link']), new RegExp(`gco${layout.slot}-host`));
    assert.doesNotMatch(await runOk('ip', ['route']), new RegExp(layout.podSubnet.replace(/\./g, '\\.')));
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.equal(mounts.includes(layout.stateDir) || mounts.includes(layout.runDir), false, 'no mount left');
    assert.equal(existsSync(layout.stateDir) || existsSync(layout.runDir), false);
    // kube-proxy's and the kubelet's rules were in the node's network namespace only.
    assert.doesNotMatch(await runOk('iptables-save', []), /KUBE-|CNI-/);
    if (existsSync('/var/log/containers')) {
      for (const link of await readdir('/var/log/containers')) {
        assert.equal((await readlink(join('/var/log/containers', link))).startsWith(layout.stateDir), false);
      }
    }
    assert.deepEqual(await hostState(), before, 'the kernel settings the kubelet changes are as they were');
  });
});
