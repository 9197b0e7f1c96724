/**
 * The cluster target installed with Helm: a node of its own (@gco/testenv's Cluster.start, not the shared
 * one, whose kustomize install would reconcile the same cluster-scoped kinds), the images built from their
 * Dockerfiles and imported, `helm install` of charts/git-change-operator with e2e/helm/values.yaml as a
 * user installs it (the chart installs the CRDs), then the development git server applied with kubectl.
 * The suite then connects as to any cluster (cluster-target.ts).
 */
import { join } from 'node:path';
import { buildImages, Cluster, helmBinary, type RunResult, repoRoot, run, tempDir } from '@gco/testenv';
import { connectClusterTarget } from './cluster-target.ts';
import { type E2ETarget, kubectlRunner, operatorNamespace } from './e2e-target.ts';
import type { NodeTarget } from './node-target.ts';

export const chart = join(repoRoot, 'charts/git-change-operator');
export const release = 'git-change-operator';
export const valuesFile = join(repoRoot, 'e2e/helm/values.yaml');

export interface HelmNodeTarget extends NodeTarget {
  /** helm against this node, with a home of its own. */
  helm(args: string[]): Promise<RunResult>;
  /** Seconds each step of the start took, for the suite's [figure] lines. */
  readonly seconds: { cluster: number; images: number; install: number; gitServer: number };
}

export async function startHelmNodeTarget(): Promise<HelmNodeTarget> {
  const started = Date.now();
  const since = (t: number) => (Date.now() - t) / 1000;
  let clusterSeconds = 0;
  // No CRDs from the harness: the chart's crds/ are what Helm installs.
  const clusterStarted = Cluster.start({ crdPaths: [] }).then((c) => {
    clusterSeconds = since(started);
    return c;
  });
  try {
    const [cluster, images, helmPath, helmHome] = await Promise.all([
      clusterStarted,
      buildImages(),
      helmBinary(),
      tempDir('gco-e2e-helm-'),
    ]);
    const imported = Date.now();
    await Promise.all(Object.values(images).map((image) => cluster.importImage(image.archive)));
    const importSeconds = since(imported);
    const kubectl = kubectlRunner(cluster.plane.kubectlPath, cluster.kubeconfigPath);
    const helm = (args: string[]): Promise<RunResult> =>
      run(helmPath, args, {
        env: {
          ...process.env,
          KUBECONFIG: cluster.kubeconfigPath,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
        },
        timeoutMs: 600_000,
      });
    const fail = async (what: string, message: string): Promise<never> => {
      const pods = await kubectl(['get', 'pods', '-A', '-o', 'wide']);
      const events = await kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']);
      throw new Error(
        `${what}: ${message}\n${pods.stdout}\n${events.stdout.split('\n').slice(-30).join('\n')}\n${await cluster.diagnostics()}`,
      );
    };

    // The chart README's command with the values file, waiting for the pod as a deployment pipeline does.
    const installing = Date.now();
    const installed = await helm([
      'install',
      release,
      chart,
      '--namespace',
      operatorNamespace,
      '--create-namespace',
      '--values',
      valuesFile,
      '--wait',
      '--timeout=5m',
    ]);
    if (installed.code !== 0) await fail('helm install', installed.stderr);
    const installSeconds = since(installing);

    const gitServerStarted = Date.now();
    const applied = await kubectl(['apply', '-k', join(repoRoot, 'e2e/helm/git-server')]);
    if (applied.code !== 0) await fail('kubectl apply -k e2e/helm/git-server', applied.stderr);
    let target: E2ETarget;
    try {
      target = await connectClusterTarget({
        kubeconfig: cluster.kubeconfigPath,
        kubectlPath: cluster.plane.kubectlPath,
      });
    } catch (error) {
      return await fail('the installation did not roll out', (error as Error).message);
    }
    const gitServerSeconds = since(gitServerStarted);
    const stopTarget = target.stop.bind(target);
    return Object.assign(target, {
      cluster,
      images,
      helm,
      seconds: { cluster: clusterSeconds, images: importSeconds, install: installSeconds, gitServer: gitServerSeconds },
      async stop() {
        await stopTarget();
        await cluster.stop();
      },
    });
  } catch (error) {
    // A node that came up while something else failed is stopped all the same.
    await (await clusterStarted.catch(() => undefined))?.stop().catch(() => {});
    throw error;
  }
}
