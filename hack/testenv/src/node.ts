/**
 * A real single-node Kubernetes cluster on this machine, without kind or a registry: a control plane
 * (control-plane.ts, serving on the node's network) with kube-controller-manager and kube-scheduler, and
 * a node with containerd 2.x, runc, a CNI bridge, the kubelet, kube-proxy (iptables) and CoreDNS, all
 * built from Go modules by hack/build-node.sh. It has what a user's cluster has and the installation
 * needs: pods reach the API server through the `kubernetes` Service with their ServiceAccount tokens,
 * `*.svc.cluster.local` names resolve, and a default StorageClass binds claims.
 *
 * The node lives in a slot of this machine (node-slot.ts, hack/node/node.sh): its own network namespace,
 * cgroups and directories, removed on stop, on interruption, or by the next run after a kill. Images
 * get in through `importImage` (a docker-archive tar, as `docker save` writes).
 */

import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, kubernetesServiceIp } from './control-plane.ts';
import { HostPathProvisioner } from './hostpath-provisioner.ts';
import { waitFor } from './net.ts';
import {
  clusterDomain,
  cniConfig,
  containerdConfig,
  corefile,
  kubeletConfig,
  podResolvConf,
  registryConfigDir,
} from './node-config.ts';
import { type NodeLayout, NodeSlot, nodeScript } from './node-slot.ts';
import { repoRoot } from './paths.ts';
import { type ManagedProcess, run, runOk, startProcess } from './processes.ts';

export interface ClusterOptions {
  /** CRDs to install, as ControlPlaneOptions.crdPaths. Default: manifests/crds. */
  crdPaths?: string[];
  /** The slot to use (0-7). Default: the first one no other run on this machine holds. */
  slot?: number;
  startTimeoutMs?: number;
}

export interface NodeBinaries {
  kubelet: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubeProxy: string;
  containerd: string;
  ctr: string;
  coredns: string;
  pauseImage: string;
  pauseImageRef: string;
  probeImage: string;
  probeImageRef: string;
}

/** Where hack/build-node.sh keeps what the node runs (it owns the versions); fails if any is missing. */
export async function nodeBinaries(): Promise<NodeBinaries> {
  const out = await runOk('bash', [join(repoRoot, 'hack/build-node.sh'), '--print-paths']);
  const v = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const bins: NodeBinaries = {
    kubelet: v.KUBELET,
    kubeControllerManager: v.KUBE_CONTROLLER_MANAGER,
    kubeScheduler: v.KUBE_SCHEDULER,
    kubeProxy: v.KUBE_PROXY,
    containerd: v.CONTAINERD,
    ctr: v.CTR,
    coredns: v.COREDNS,
    pauseImage: v.PAUSE_IMAGE,
    pauseImageRef: v.PAUSE_IMAGE_REF,
    probeImage: v.PROBE_IMAGE,
    probeImageRef: v.PROBE_IMAGE_REF,
  } as NodeBinaries;
  const files = Object.entries(bins).filter(([k]) => !k.endsWith('Ref'));
  const missing = files.filter(([, path]) => !path || !existsSync(path)).map(([, path]) => path);
  if (missing.length > 0) {
    throw new Error(
      `The test node is not built: missing ${missing.join(', ')}.\n` +
        'Run `npm run setup` (or `bash hack/build-node.sh`) once; it builds the kubelet, kube-proxy, ' +
        'kube-controller-manager, kube-scheduler, containerd and CoreDNS from Go modules (needs Go >= 1.26 ' +
        'and the Go module proxy; about 15 minutes the first time).',
    );
  }
  return bins;
}

export class Cluster {
  /** The namespace of containerd where the kubelet's images are (CRI). */
  static readonly containerdNamespace = 'k8s.io';
  static readonly storageClassName = 'gco-hostpath';

  readonly plane: ControlPlane;
  private readonly slot: NodeSlot;
  private readonly bins: NodeBinaries;
  private readonly processes: Map<string, ManagedProcess>;
  private provisioner: HostPathProvisioner | undefined;

  private constructor(plane: ControlPlane, slot: NodeSlot, bins: NodeBinaries, processes: Map<string, ManagedProcess>) {
    this.plane = plane;
    this.slot = slot;
    this.bins = bins;
    this.processes = processes;
  }

  get layout(): NodeLayout {
    return this.slot.layout;
  }
  get nodeName(): string {
    return this.layout.nodeName;
  }
  /** This machine's address as pods see it (the API server listens there; so can test servers). */
  get hostAddress(): string {
    return this.layout.hostAddress;
  }
  /** The cluster DNS server (CoreDNS), on the pods' bridge. */
  get dnsAddress(): string {
    return this.layout.gateway;
  }
  /** containerd's socket (`ctr --address`), images in namespace Cluster.containerdNamespace. */
  get containerdAddress(): string {
    return this.layout.containerdSocket;
  }
  /** Admin kubeconfig (system:masters), for kubectl and other processes. */
  get kubeconfigPath(): string {
    return this.plane.kubeconfigPath;
  }
  /** The tests' probe image (hack/node/images/probe), already imported. */
  get probeImage(): string {
    return this.bins.probeImageRef;
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const bins = await nodeBinaries();
    const slot = await NodeSlot.acquire(options.slot);
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const processes = new Map<string, ManagedProcess>();
    let plane: ControlPlane | undefined;
    let cluster: Cluster | undefined;
    try {
      await slot.reset();
      const { layout } = slot;
      const dirs = {
        config: join(layout.stateDir, 'config'),
        logs: join(layout.stateDir, 'logs'),
        cni: join(layout.stateDir, 'cni'),
      };
      await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true })));
      const file = (name: string) => join(dirs.config, name);
      const logPath = (name: string) => join(dirs.logs, `${name}.log`);
      const start = (name: string, binary: string, args: string[], env?: NodeJS.ProcessEnv) => {
        const [command, commandArgs] = slot.command(binary, args);
        processes.set(name, startProcess(command, commandArgs, logPath(name), env ? { env } : {}));
      };

      // containerd and its images need no API server: they come up while it does.
      const runtime = (async () => {
        await writeFile(file('containerd.toml'), containerdConfig(layout, bins.pauseImageRef));
        await writeFile(join(dirs.cni, '10-gco.conflist'), cniConfig(layout));
        start('containerd', bins.containerd, ['--config', file('containerd.toml')], {
          ...process.env,
          // containerd finds its runc shim on PATH.
          PATH: `${dirname(bins.containerd)}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
        });
        await waitFor(async () => (await run(bins.ctr, ['--address', layout.containerdSocket, 'version'])).code === 0, {
          timeoutMs,
          describe: async () => `containerd did not start:\n${await tail(logPath('containerd'))}`,
        });
        await Promise.all([importImage(layout, bins.pauseImage), importImage(layout, bins.probeImage)]);
      })();
      // Awaited below, before the kubelet starts; this only keeps an early failure from going unhandled.
      runtime.catch(() => {});
      plane = await ControlPlane.start({
        nodeAddress: layout.hostAddress,
        crdPaths: options.crdPaths,
        startTimeoutMs: timeoutMs,
        // In the slot, so that `node.sh down` removes a killed run's control plane with its node.
        parentDir: layout.stateDir,
        launch: (binary, args) => slot.command(binary, args, { hostNetwork: true }),
      });
      cluster = new Cluster(plane, slot, bins, processes);

      // Each component as in any cluster: its own identity (a client certificate) and the RBAC the
      // API server's bootstrap policy gives it.
      const identities: Array<[string, string, string[]]> = [
        ['kubelet', `system:node:${layout.nodeName}`, ['system:nodes']],
        ['kube-proxy', 'system:kube-proxy', []],
        ['kube-controller-manager', 'system:kube-controller-manager', []],
        ['kube-scheduler', 'system:kube-scheduler', []],
        ['coredns', 'gco:cluster-dns', []],
      ];
      await Promise.all(
        identities.map(([name, user, groups]) =>
          plane?.writeCertificateKubeconfig(file(`${name}.kubeconfig`), user, groups),
        ),
      );
      await cluster.grantClusterDns('gco:cluster-dns');

      start('kube-controller-manager', bins.kubeControllerManager, [
        `--kubeconfig=${file('kube-controller-manager.kubeconfig')}`,
        `--service-account-private-key-file=${plane.serviceAccountKeyPath}`,
        `--root-ca-file=${plane.caPath}`,
        // Each controller under its own ServiceAccount, so their RBAC is checked as in a cluster.
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--v=0',
      ]);
      start('kube-scheduler', bins.kubeScheduler, [
        `--kubeconfig=${file('kube-scheduler.kubeconfig')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--v=0',
      ]);
      start('kube-proxy', bins.kubeProxy, [
        `--kubeconfig=${file('kube-proxy.kubeconfig')}`,
        '--proxy-mode=iptables',
        `--cluster-cidr=${layout.podSubnet}`,
        `--hostname-override=${layout.nodeName}`,
        // 0: leave the machine's conntrack settings as they are.
        '--conntrack-max-per-core=0',
        '--conntrack-tcp-timeout-established=0s',
        '--conntrack-tcp-timeout-close-wait=0s',
        '--metrics-bind-address=127.0.0.1:10249',
        '--v=0',
      ]);
      await writeFile(file('Corefile'), corefile(layout, file('coredns.kubeconfig')));
      start('coredns', bins.coredns, ['-conf', file('Corefile')]);

      await writeFile(join(layout.stateDir, 'resolv.conf'), podResolvConf(layout));
      await writeFile(file('kubelet.json'), kubeletConfig(layout, plane.clientCaPath));
      await runtime;
      start('kubelet', bins.kubelet, [
        `--config=${file('kubelet.json')}`,
        `--kubeconfig=${file('kubelet.kubeconfig')}`,
        `--root-dir=${join(layout.stateDir, 'kubelet')}`,
        `--hostname-override=${layout.nodeName}`,
        `--node-ip=${layout.gateway}`,
        '--v=0',
      ]);

      cluster.provisioner = new HostPathProvisioner(
        plane.admin(),
        join(layout.stateDir, 'volumes'),
        Cluster.storageClassName,
      );
      await cluster.provisioner.start();
      await cluster.waitUntilReady(timeoutMs);
      return cluster;
    } catch (error) {
      if (cluster) await cluster.stop().catch(() => {});
      else {
        await slot.release().catch(() => {});
        await plane?.stop().catch(() => {});
        await Promise.all([...processes.values()].map((p) => p.stop()));
      }
      throw error;
    }
  }

  /**
   * Loads a docker-archive tar (`docker save`) into the node's containerd, where the kubelet finds it:
   * pods can then use it with imagePullPolicy Never or IfNotPresent (any tag but `latest`).
   */
  importImage(tar: string): Promise<void> {
    return importImage(this.layout, tar);
  }

  /**
   * Lets the node's containerd pull from the plain-HTTP registry at `host` (`address:port`), as kind's
   * local registry is set up: a hosts.toml in containerd's config_path, which it reads at every pull.
   */
  async trustPlainHttpRegistry(host: string): Promise<void> {
    const dir = join(registryConfigDir(this.layout), host);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'hosts.toml'),
      `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
  }

  /**
   * Command and arguments that run `binary` on the node: its network namespace (where `localhost` is
   * the node's own, so ports bound there never meet another run's) and its cgroup (stopped with it).
   */
  command(binary: string, args: string[]): [string, string[]] {
    return this.slot.command(binary, args);
  }

  /** Creates a namespace and waits until it has what pods need: its default ServiceAccount and root CA. */
  async createNamespace(name: string): Promise<void> {
    await this.plane.ensureNamespace(name);
    const core = this.plane.admin().makeApiClient(k8s.CoreV1Api);
    await waitFor(
      async () => {
        await core.readNamespacedServiceAccount({ namespace: name, name: 'default' });
        await core.readNamespacedConfigMap({ namespace: name, name: 'kube-root-ca.crt' });
        return true;
      },
      { timeoutMs: 30_000, describe: () => `namespace ${name} got no default ServiceAccount or kube-root-ca.crt` },
    );
  }

  /** PIDs of the node's processes (containerd, kubelet, kube-proxy, CoreDNS, controller-manager, scheduler). */
  pids(): number[] {
    return [...this.processes.values()].map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Path of a component's log (containerd, kubelet, kube-proxy, coredns, kube-controller-manager...). */
  logPath(component: string): string {
    return join(this.layout.stateDir, 'logs', `${component}.log`);
  }

  async diagnostics(): Promise<string> {
    const parts = await Promise.all(
      [...this.processes.keys()].map(async (name) => `--- ${name}\n${await tail(this.logPath(name), 15)}`),
    );
    return [...parts, ...(this.provisioner?.errors ?? []).map((e) => `provisioner: ${e}`)].join('\n');
  }

  async stop(): Promise<void> {
    await this.provisioner?.stop();
    // The kubelet first, so it does not restart what the others leave; node.sh down kills the rest.
    for (const name of [
      'kubelet',
      'kube-proxy',
      'coredns',
      'kube-scheduler',
      'kube-controller-manager',
      'containerd',
    ]) {
      await this.processes.get(name)?.stop();
    }
    // Killing the control plane with the rest (node.sh down) is quicker than its graceful stop, and its
    // state goes anyway; plane.stop() then finds it stopped.
    try {
      await this.slot.release();
    } finally {
      await this.plane.stop();
    }
  }

  /** RBAC for CoreDNS's kubernetes plugin (what upstream's system:coredns ClusterRole grants). */
  private async grantClusterDns(user: string): Promise<void> {
    const rbac = this.plane.admin().makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: user },
        rules: [
          { apiGroups: [''], resources: ['services', 'namespaces'], verbs: ['list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: user },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: user },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const core = this.plane.admin().makeApiClient(k8s.CoreV1Api);
    const describe = async (what: string) => `${what}\n${await this.diagnostics()}`;
    await waitFor(
      async () => {
        const node = await core.readNode({ name: this.nodeName });
        return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      },
      { timeoutMs, intervalMs: 250, describe: () => describe(`node ${this.nodeName} did not become Ready`) },
    );
    // The controller-manager's work that every pod relies on.
    await waitFor(
      async () => {
        await core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' });
        await core.readNamespacedConfigMap({ namespace: 'default', name: 'kube-root-ca.crt' });
        return true;
      },
      { timeoutMs, describe: () => describe('kube-controller-manager made no default ServiceAccount or root CA') },
    );
    // Cluster DNS answers for the kubernetes Service, asked the way pods ask it.
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([this.dnsAddress]);
    await waitFor(
      async () => (await resolver.resolve4(`kubernetes.default.svc.${clusterDomain}`)).includes(kubernetesServiceIp),
      { timeoutMs, intervalMs: 250, describe: () => describe('CoreDNS does not answer for the kubernetes Service') },
    );
  }
}

function importImage(layout: NodeLayout, tar: string): Promise<void> {
  return runOk('bash', [nodeScript, 'import-image', String(layout.slot), tar], { timeoutMs: 300_000 }).then(() => {});
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
