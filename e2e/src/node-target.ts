/**
 * The cluster target on the harness's own node (@gco/testenv's sharedCluster): the three images built
 * from their Dockerfiles and imported into the node's containerd, manifests/overlays/e2e applied as a
 * user applies it, then the suite connects as to any cluster (cluster-target.ts). Nothing here differs
 * from a user's install but where the images come from: no registry is reachable, so they are imported
 * under the `:dev` tags the overlay runs.
 */
import { join } from 'node:path';
import { type BuiltImages, buildImages, type Cluster, repoRoot, sharedCluster } from '@gco/testenv';
import { connectClusterTarget } from './cluster-target.ts';
import { type E2ETarget, kubectlRunner } from './e2e-target.ts';

export interface NodeTarget extends E2ETarget {
  readonly cluster: Cluster;
  readonly images: BuiltImages;
}

export async function startNodeTarget(): Promise<NodeTarget> {
  const [cluster, images] = await Promise.all([sharedCluster(), buildImages()]);
  for (const image of Object.values(images)) await cluster.importImage(image.archive);
  const kubectl = kubectlRunner(cluster.plane.kubectlPath, cluster.kubeconfigPath);
  // Server-side, as hack/kind-e2e.sh applies it: the CRDs are too large for the client-side
  // last-applied annotation. The harness installed the same CRDs already, under its own field manager.
  const applied = await kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-k',
    join(repoRoot, 'manifests/overlays/e2e'),
  ]);
  if (applied.code !== 0)
    throw new Error(`kubectl apply -k manifests/overlays/e2e: ${applied.stderr}\n${await cluster.diagnostics()}`);
  let target: E2ETarget;
  try {
    target = await connectClusterTarget({ kubeconfig: cluster.kubeconfigPath, kubectlPath: cluster.plane.kubectlPath });
  } catch (error) {
    const pods = await kubectl(['get', 'pods', '-A', '-o', 'wide']);
    const events = await kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']);
    throw new Error(
      `${(error as Error).message}\n${pods.stdout}\n${events.stdout.split('\n').slice(-30).join('\n')}\n${await cluster.diagnostics()}`,
    );
  }
  return Object.assign(target, { cluster, images });
}
