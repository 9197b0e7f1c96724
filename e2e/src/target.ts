/**
 * Where the e2e suite runs. One suite, two targets, chosen by E2E_TARGET:
 *
 * - `local` (the default, what CI runs): a real kube-apiserver and etcd on loopback, the development
 *   git server, the git sidecar and the operator as processes, the operator under manifests/rbac.
 * - `cluster`: any cluster from KUBECONFIG where manifests/overlays/e2e is deployed (the operator as
 *   users install it, and the in-cluster development git server); hack/kind-e2e.sh makes one with kind.
 *
 * The suite sees both through the same narrow surface: the real kubectl, and a git server reached over
 * smart HTTP with a token. The operator and the suite may reach the git server at different URLs (the
 * Service's DNS name inside the cluster, a port-forward outside).
 */

import type { E2ETarget } from './e2e-target.ts';

export async function startTarget(): Promise<E2ETarget> {
  const name = process.env.E2E_TARGET ?? 'local';
  if (name === 'local') return (await import('./local-target.ts')).startLocalTarget();
  if (name === 'cluster') return (await import('./cluster-target.ts')).connectClusterTarget();
  throw new Error(`E2E_TARGET=${name}: expected local (the default) or cluster`);
}
