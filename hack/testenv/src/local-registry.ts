/**
 * A local image registry for a test node, set up as kind's documentation sets one up for Tilt: a real
 * registry (CNCF Distribution) that the developer's Docker pushes to, the node's containerd allowed to
 * pull from it over plain HTTP, and the cluster advertising it with KEP-1755's `local-registry-hosting`
 * ConfigMap in kube-public, which Tilt reads to push there and to rewrite the pods' images.
 *
 * Docker pushes without TLS only to loopback addresses, and the node's containerd, in its own network
 * namespace, reaches this machine at the slot's host address: the registry listens on loopback and a
 * forwarder on the host address passes the node's pulls on to it. Its storage is a temporary directory.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { forwardTcp, freePort, waitFor } from './net.ts';
import type { Cluster } from './node.ts';
import { type ManagedProcess, startProcess } from './processes.ts';
import { tempDir } from './temp.ts';

export class LocalRegistry {
  /** Where Docker pushes (`127.0.0.1:port`). */
  readonly host: string;
  /** Where the node's container runtime pulls (`<host address>:port`). */
  readonly hostFromContainerRuntime: string;
  private readonly server: ManagedProcess;
  private readonly closeForwarder: () => Promise<void>;

  private constructor(host: string, fromRuntime: string, server: ManagedProcess, closeForwarder: () => Promise<void>) {
    this.host = host;
    this.hostFromContainerRuntime = fromRuntime;
    this.server = server;
    this.closeForwarder = closeForwarder;
  }

  static async start(cluster: Cluster, registryBinary: string): Promise<LocalRegistry> {
    const dir = await tempDir('gco-registry-');
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: { level: warn, accesslog: { disabled: true } }',
        `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
        `http: { addr: "${host}" }`,
        '',
      ].join('\n'),
    );
    const server = startProcess(registryBinary, ['serve', config], join(dir, 'registry.log'), {
      // Distribution traces with OpenTelemetry; nothing here collects it.
      env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', OTEL_SDK_DISABLED: 'true' },
    });
    let closeForwarder: (() => Promise<void>) | undefined;
    try {
      await waitFor(async () => (await fetch(`http://${host}/v2/`)).status === 200, {
        timeoutMs: 30_000,
        describe: async () => `the registry did not start (log ${join(dir, 'registry.log')})`,
      });
      closeForwarder = await forwardTcp({ host: cluster.hostAddress, port }, { host: '127.0.0.1', port });
      const fromRuntime = `${cluster.hostAddress}:${port}`;
      await cluster.trustPlainHttpRegistry(fromRuntime);
      await advertise(cluster, host, fromRuntime);
      return new LocalRegistry(host, fromRuntime, server, closeForwarder);
    } catch (error) {
      await closeForwarder?.();
      await server.stop();
      throw error;
    }
  }

  /** The repository names that hold at least one image (the registry's catalog). */
  async repositories(): Promise<string[]> {
    const res = await fetch(`http://${this.host}/v2/_catalog`);
    if (res.status !== 200) throw new Error(`GET /v2/_catalog: ${res.status}`);
    return ((await res.json()) as { repositories?: string[] }).repositories ?? [];
  }

  async stop(): Promise<void> {
    await this.closeForwarder();
    await this.server.stop();
  }
}

/** KEP-1755: how tools (Tilt, ctlptl) learn where to push and what the runtime pulls. */
async function advertise(cluster: Cluster, host: string, fromRuntime: string): Promise<void> {
  const core = cluster.plane.admin().makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace: 'kube-public',
    body: {
      metadata: { name: 'local-registry-hosting', namespace: 'kube-public' },
      data: {
        'localRegistryHosting.v1': [
          `host: "${host}"`,
          `hostFromContainerRuntime: "${fromRuntime}"`,
          'help: "https://kind.sigs.k8s.io/docs/user/local-registry/"',
          '',
        ].join('\n'),
      },
    },
  });
}
