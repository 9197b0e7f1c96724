/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver (built from Go modules by
 * hack/build-control-plane.sh) on free loopback ports, with RBAC on, as envtest runs them. No
 * controller-manager: no garbage collection, namespaces never finish deleting, no default ServiceAccount.
 * With `nodeAddress`, the API server is the one of a real node's cluster instead (node.ts).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createCertificateAuthority, createClientCertificate, createServerCertificate } from './certificates.ts';
import { freePort, waitFor } from './net.ts';
import { repoRoot } from './paths.ts';
import { type ManagedProcess, removeOnExit, run, runOk, startProcess } from './processes.ts';

export interface ControlPlaneOptions {
  /** Directories or files of CRD YAML to install once the API server is up. Default: manifests/crds. */
  crdPaths?: string[];
  startTimeoutMs?: number;
  /**
   * Serve and advertise on this (non-loopback) address, as the API server of a cluster with a node
   * (node.ts): the `kubernetes` Service points here, ServiceAccount admission gives pods their tokens,
   * Node authorization and NodeRestriction hold the kubelet to its own node, and the API server reaches
   * kubelets with a client certificate. Default: loopback only, as envtest.
   */
  nodeAddress?: string;
  /** Where to make its directory (default: the system's temporary directory). */
  parentDir?: string;
  /**
   * How to start etcd and kube-apiserver: the command and arguments that run `binary` with `args`
   * (node.ts starts them in its slot, so that a killed run's control plane is found with its node).
   */
  launch?: (binary: string, args: string[]) => [string, string[]];
}

/** The `kubernetes` Service's address: the first of --service-cluster-ip-range. */
export const kubernetesServiceIp = '10.0.0.1';

/** Where hack/build-control-plane.sh keeps the binaries (it owns the versions). */
export async function controlPlaneBinDir(): Promise<string> {
  if (process.env.GCO_ENVTEST_BIN_DIR) return process.env.GCO_ENVTEST_BIN_DIR;
  const out = await runOk('bash', [join(repoRoot, 'hack/build-control-plane.sh'), '--print-dir']);
  return out.trim();
}

async function requireBinaries(): Promise<Record<'etcd' | 'kubeApiserver' | 'kubectl', string>> {
  const dir = await controlPlaneBinDir();
  const bins = {
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubectl: join(dir, 'kubectl'),
  };
  const missing = Object.values(bins).filter((b) => !existsSync(b));
  if (missing.length > 0) {
    throw new Error(
      `The test control plane is not built: missing ${missing.join(', ')}.\n` +
        'Run `npm run setup` (or `bash hack/build-control-plane.sh`) once; it builds etcd, kube-apiserver and ' +
        'kubectl from Go modules (needs Go >= 1.26 and the Go module proxy; 15-30 minutes the first time).',
    );
  }
  return bins;
}

export class ControlPlane {
  readonly root: string;
  /** The CA that signed the API server's serving certificate: what a client must trust (PEM file). */
  readonly caPath: string;
  /** The CA whose client certificates the API server accepts (PEM file; ca.key next to it). */
  readonly clientCaPath: string;
  /** The key that signs ServiceAccount tokens (a controller-manager needs it). */
  readonly serviceAccountKeyPath: string;
  readonly kubectlPath: string;
  /** Admin (system:masters) kubeconfig, as a file for kubectl and other processes. */
  readonly kubeconfigPath: string;
  readonly server: string;
  private readonly processes: ManagedProcess[];
  private readonly caData: string;
  private readonly adminToken: string;
  private forgetRoot: () => void = () => {};
  private startApiServer: () => ManagedProcess = () => {
    throw new Error('not started');
  };

  private constructor(init: {
    root: string;
    kubectlPath: string;
    kubeconfigPath: string;
    server: string;
    processes: ManagedProcess[];
    caData: string;
    adminToken: string;
  }) {
    this.root = init.root;
    this.caPath = join(init.root, 'serving-ca/ca.crt');
    this.clientCaPath = join(init.root, 'client-ca/ca.crt');
    this.serviceAccountKeyPath = join(init.root, 'sa.key');
    this.kubectlPath = init.kubectlPath;
    this.kubeconfigPath = init.kubeconfigPath;
    this.server = init.server;
    this.processes = init.processes;
    this.caData = init.caData;
    this.adminToken = init.adminToken;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const bins = await requireBinaries();
    const root = await mkdtemp(join(options.parentDir ?? tmpdir(), 'gco-control-plane-'));
    const launch = options.launch ?? ((binary: string, args: string[]) => [binary, args] as [string, string[]]);
    const start = (binary: string, args: string[], logPath: string) => startProcess(...launch(binary, args), logPath);
    const forgetRoot = removeOnExit(root);
    const processes: ManagedProcess[] = [];
    try {
      const timeoutMs = options.startTimeoutMs ?? 60_000;
      const address = options.nodeAddress ?? '127.0.0.1';
      const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
      const etcdUrl = `http://127.0.0.1:${etcdClient}`;
      const etcd = start(
        bins.etcd,
        [
          `--data-dir=${join(root, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        join(root, 'etcd.log'),
      );
      processes.push(etcd);
      await waitFor(async () => (await fetch(`${etcdUrl}/health`)).ok, {
        timeoutMs,
        describe: async () => `etcd did not become healthy:\n${await tail(etcd.logPath)}`,
      });

      const certDir = join(root, 'certs');
      await mkdir(certDir, { recursive: true });
      const adminToken = randomBytes(24).toString('hex');
      const tokenFile = join(root, 'tokens.csv');
      await writeFile(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
      // Client certificates signed by this CA are accepted too (clientCertificate()), as kind's are.
      const clientCaDir = join(root, 'client-ca');
      await mkdir(clientCaDir, { recursive: true });
      await createCertificateAuthority(clientCaDir, 'gco test client CA');
      const saKey = join(root, 'sa.key');
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      await writeFile(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      // A serving certificate from a CA of its own, for every name a client in or out of a pod uses.
      const servingCaDir = join(root, 'serving-ca');
      await mkdir(servingCaDir, { recursive: true });
      await createCertificateAuthority(servingCaDir, 'gco test API server CA');
      const serving = await createServerCertificate(servingCaDir, {
        ips: [...new Set([address, '127.0.0.1', kubernetesServiceIp])],
        dns: [
          'localhost',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
        ],
      });
      await writeFile(join(certDir, 'apiserver.crt'), serving.cert);
      await writeFile(join(certDir, 'apiserver.key'), serving.key, { mode: 0o600 });

      const modeArgs = options.nodeAddress
        ? await nodeModeArgs(root, clientCaDir)
        : [
            // No Endpoints for the kubernetes Service: a loopback address is not allowed there.
            '--endpoint-reconciler-type=none',
            // No controller-manager makes default ServiceAccounts, which this admission plugin requires.
            '--disable-admission-plugins=ServiceAccount',
            '--authorization-mode=RBAC',
          ];
      const apiserverArgs = [
        `--etcd-servers=${etcdUrl}`,
        `--tls-cert-file=${join(certDir, 'apiserver.crt')}`,
        `--tls-private-key-file=${join(certDir, 'apiserver.key')}`,
        `--secure-port=${apiPort}`,
        `--bind-address=${address}`,
        `--advertise-address=${address}`,
        ...modeArgs,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        `--token-auth-file=${tokenFile}`,
        `--client-ca-file=${join(clientCaDir, 'ca.crt')}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saKey}`,
        `--service-account-signing-key-file=${saKey}`,
        '--v=0',
      ];
      const startApiServer = () => start(bins.kubeApiserver, apiserverArgs, join(root, 'kube-apiserver.log'));
      const apiserver = startApiServer();
      processes.push(apiserver);
      const server = `https://${address}:${apiPort}`;
      const caData = Buffer.from(await readFile(join(servingCaDir, 'ca.crt'))).toString('base64');
      const kubeconfigPath = join(root, 'admin.kubeconfig');
      const plane = new ControlPlane({
        root,
        kubectlPath: bins.kubectl,
        kubeconfigPath,
        server,
        processes,
        caData,
        adminToken,
      });
      await writeFile(kubeconfigPath, plane.kubeConfigFor('admin', adminToken).exportConfig(), { mode: 0o600 });

      const core = plane.admin().makeApiClient(k8s.CoreV1Api);
      await waitFor(
        async () => {
          if ((await plane.request('GET', '/readyz')).status !== 200) return false;
          await core.readNamespace({ name: 'default' });
          return true;
        },
        {
          timeoutMs,
          intervalMs: 200,
          describe: async () => `kube-apiserver did not become ready:\n${await tail(apiserver.logPath)}`,
        },
      );
      await plane.installCrds(options.crdPaths ?? [join(repoRoot, 'manifests/crds')]);
      plane.forgetRoot = forgetRoot;
      plane.startApiServer = startApiServer;
      return plane;
    } catch (error) {
      await Promise.all(processes.map((p) => p.stop()));
      await rm(root, { recursive: true, force: true });
      forgetRoot();
      throw error;
    }
  }

  /** A client certificate (PEM) the API server accepts for `user` in `groups`, as kind's kubeconfig has. */
  clientCertificate(user: string, groups: string[] = []): Promise<{ cert: string; key: string }> {
    return createClientCertificate(join(this.root, 'client-ca'), user, groups);
  }

  /**
   * Writes a kubeconfig file for `user` in `groups` with a client certificate, as the components of a
   * cluster (kubelet, controller-manager...) get theirs.
   */
  async writeCertificateKubeconfig(path: string, user: string, groups: string[] = []): Promise<void> {
    const { cert, key } = await this.clientCertificate(user, groups);
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'envtest', server: this.server, caData: this.caData, skipTLSVerify: false }],
      users: [
        { name: user, certData: Buffer.from(cert).toString('base64'), keyData: Buffer.from(key).toString('base64') },
      ],
      contexts: [{ name: 'envtest', cluster: 'envtest', user }],
      currentContext: 'envtest',
    });
    await writeFile(path, kc.exportConfig(), { mode: 0o600 });
  }

  /** A KubeConfig for the admin user (group system:masters). */
  admin(): k8s.KubeConfig {
    return this.kubeConfigFor('admin', this.adminToken);
  }

  kubeConfigFor(user: string, token: string, namespace?: string): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'envtest', server: this.server, caData: this.caData, skipTLSVerify: false }],
      users: [{ name: user, token }],
      contexts: [{ name: 'envtest', cluster: 'envtest', user, ...(namespace ? { namespace } : {}) }],
      currentContext: 'envtest',
    });
    return kc;
  }

  /**
   * A KubeConfig authenticated as a ServiceAccount (a real bound token from the TokenRequest API), so
   * requests get exactly that ServiceAccount's RBAC. Creates the namespace and ServiceAccount if needed.
   */
  async serviceAccountKubeConfig(
    namespace: string,
    name: string,
  ): Promise<{ kubeConfig: k8s.KubeConfig; path: string }> {
    await this.ensureNamespace(namespace);
    const core = this.admin().makeApiClient(k8s.CoreV1Api);
    await createIfMissing(() => core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }));
    const token = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
    });
    const value = token.status?.token;
    if (!value) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const kubeConfig = this.kubeConfigFor(`system:serviceaccount:${namespace}:${name}`, value, namespace);
    const path = join(this.root, `sa-${namespace}-${name}.kubeconfig`);
    await writeFile(path, kubeConfig.exportConfig(), { mode: 0o600 });
    return { kubeConfig, path };
  }

  async ensureNamespace(name: string): Promise<void> {
    const core = this.admin().makeApiClient(k8s.CoreV1Api);
    await createIfMissing(() => core.createNamespace({ body: { metadata: { name } } }));
  }

  /** Applies every CRD in the given files or directories and waits until discovery serves them. */
  async installCrds(paths: string[]): Promise<void> {
    const docs: k8s.V1CustomResourceDefinition[] = [];
    for (const path of paths) {
      const files = path.endsWith('.yaml')
        ? [path]
        : (await readdir(path)).filter((f) => f.endsWith('.yaml')).map((f) => join(path, f));
      for (const file of files) {
        for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
          const obj = doc.toJS() as k8s.V1CustomResourceDefinition | null;
          if (obj?.kind === 'CustomResourceDefinition') docs.push(obj);
        }
      }
    }
    // Server-side apply over a raw request: client-node's typed serializer would drop schema keywords
    // it models under other names (enum, default, x-kubernetes-validations).
    for (const crd of docs) {
      const res = await this.request(
        'PATCH',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}?fieldManager=gco-testenv&force=true`,
        { body: JSON.stringify(crd), contentType: 'application/apply-patch+yaml' },
      );
      if (res.status >= 300) throw new Error(`applying CRD ${crd.metadata?.name} failed (${res.status}): ${res.body}`);
    }
    const ext = this.admin().makeApiClient(k8s.ApiextensionsV1Api);
    for (const crd of docs) {
      const name = crd.metadata?.name ?? '';
      await waitFor(
        async () => {
          const got = await ext.readCustomResourceDefinition({ name });
          return (got.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
        },
        { timeoutMs: 30_000, describe: () => `CRD ${name} was not established` },
      );
      const { group, versions, names } = crd.spec;
      for (const v of versions.filter((x) => x.served)) {
        await waitFor(
          async () => {
            const res = await this.request('GET', `/apis/${group}/${v.name}`);
            if (res.status !== 200) return false;
            const body = JSON.parse(res.body) as { resources?: Array<{ name: string }> };
            return (body.resources ?? []).some((r) => r.name === names.plural);
          },
          { timeoutMs: 30_000, describe: () => `discovery does not serve ${names.plural}.${group}/${v.name}` },
        );
      }
    }
  }

  /** Runs the real kubectl against this control plane (admin unless another kubeconfig is given). */
  async kubectl(args: string[], opts: { input?: string; kubeconfig?: string } = {}) {
    return run(this.kubectlPath, args, {
      input: opts.input,
      env: { ...process.env, KUBECONFIG: opts.kubeconfig ?? this.kubeconfigPath },
    });
  }

  /**
   * Stops kube-apiserver and starts it again on the same port with the same data in etcd, as an
   * upgrade or a crash would; resolves once it is ready again.
   */
  async restartApiServer(opts: { downMs?: number } = {}): Promise<void> {
    const old = this.processes[1];
    await old?.stop();
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    this.processes[1] = this.startApiServer();
    await waitFor(async () => (await this.request('GET', '/readyz')).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 200,
      describe: () => 'kube-apiserver did not come back',
    });
  }

  /** PIDs of etcd and kube-apiserver. */
  pids(): number[] {
    return this.processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** A raw request as admin, verifying the API server's certificate. */
  request(
    method: string,
    path: string,
    opts: { body?: string; contentType?: string } = {},
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${this.server}${path}`,
        {
          method,
          ca: Buffer.from(this.caData, 'base64'),
          headers: {
            authorization: `Bearer ${this.adminToken}`,
            ...(opts.contentType ? { 'content-type': opts.contentType } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  async stop(): Promise<void> {
    for (const p of [...this.processes].reverse()) await p.stop();
    await rm(this.root, { recursive: true, force: true });
    this.forgetRoot();
  }
}

/** What a node's cluster needs of its API server (see ControlPlaneOptions.nodeAddress). */
async function nodeModeArgs(root: string, clientCaDir: string): Promise<string[]> {
  // The API server's own identity towards kubelets (logs, exec, port-forward), which they check with
  // a SubjectAccessReview: system:masters may do all of it.
  const kubeletClient = await createClientCertificate(clientCaDir, 'kube-apiserver-kubelet-client', ['system:masters']);
  const certPath = join(root, 'kubelet-client.crt');
  const keyPath = join(root, 'kubelet-client.key');
  await writeFile(certPath, kubeletClient.cert);
  await writeFile(keyPath, kubeletClient.key, { mode: 0o600 });
  return [
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--kubelet-client-certificate=${certPath}`,
    `--kubelet-client-key=${keyPath}`,
    // Otherwise logs and exec look the node's name up in this machine's DNS.
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

export function statusCode(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'number') return error.code;
  return undefined;
}

async function createIfMissing(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (statusCode(error) !== 409) throw error;
  }
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
