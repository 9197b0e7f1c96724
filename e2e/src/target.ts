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

import { type RunResult, run } from '@gco/testenv';

export interface E2ETarget {
  readonly name: 'local' | 'cluster';
  /** The real kubectl against the target's API server. */
  kubectl(args: string[], input?: string): Promise<RunResult>;
  /** A repository URL as the operator reaches it (what goes into a GitCommit). */
  operatorUrl(repository: string): string;
  /** The same repository as the suite reaches it. */
  suiteUrl(repository: string): string;
  /** The git server's token (also what the suite puts into credential Secrets). */
  readonly token: string;
  /** What to print when something did not happen: the operator's and the sidecar's last log lines. */
  diagnostics(): Promise<string>;
  stop(): Promise<void>;
}

export const operatorNamespace = 'git-change-operator-system';

export async function startTarget(): Promise<E2ETarget> {
  const name = process.env.E2E_TARGET ?? 'local';
  if (name === 'local') return (await import('./local-target.ts')).startLocalTarget();
  if (name === 'cluster') return (await import('./cluster-target.ts')).connectClusterTarget();
  throw new Error(`E2E_TARGET=${name}: expected local (the default) or cluster`);
}

/** kubectl with a kubeconfig; the binary is the one the harness builds unless KUBECTL names another. */
export function kubectlRunner(kubectlPath: string, kubeconfig: string) {
  return (args: string[], input?: string) =>
    run(kubectlPath, args, { input, env: { ...process.env, KUBECONFIG: kubeconfig }, timeoutMs: 180_000 });
}

export const joinUrl = (base: string, repository: string) => `${base.replace(/\/$/, '')}/${repository}`;
