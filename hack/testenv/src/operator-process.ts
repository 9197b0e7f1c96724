/**
 * The real operator as a separate process, authenticated as its ServiceAccount with exactly the RBAC of
 * manifests/rbac, as it runs in a cluster.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane.ts';
import { entryPoint } from './entry-point.ts';
import { waitFor } from './net.ts';
import { repoRoot } from './paths.ts';
import { type ManagedProcess, startProcess } from './processes.ts';
import { tempDir } from './temp.ts';

export const operatorNamespace = 'git-change-operator-system';
export const operatorServiceAccount = 'git-change-operator';

interface ClusterRole {
  metadata: { name: string; labels?: Record<string, string> };
  aggregationRule?: { clusterRoleSelectors?: Array<{ matchLabels?: Record<string, string> }> };
  rules?: unknown[];
}

/**
 * What kube-controller-manager's clusterrole-aggregation controller does, which a bare API server
 * lacks: fills each aggregated ClusterRole with the rules of the ClusterRoles its selectors match.
 */
export async function aggregateClusterRoles(plane: ControlPlane): Promise<void> {
  const res = await plane.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles');
  const roles = (JSON.parse(res.body) as { items: ClusterRole[] }).items;
  for (const role of roles.filter((r) => r.aggregationRule)) {
    const selectors = role.aggregationRule?.clusterRoleSelectors ?? [];
    const rules = roles
      .filter((r) => r.metadata.name !== role.metadata.name)
      .filter((r) =>
        selectors.some((s) => Object.entries(s.matchLabels ?? {}).every(([k, v]) => r.metadata.labels?.[k] === v)),
      )
      .flatMap((r) => r.rules ?? []);
    const patched = await plane.request(
      'PATCH',
      `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.metadata.name}`,
      {
        body: JSON.stringify({ rules }),
        contentType: 'application/merge-patch+json',
      },
    );
    if (patched.status >= 300) throw new Error(`aggregating ${role.metadata.name}: ${patched.body}`);
  }
}

/** Applies manifests/rbac (with the real kubectl) and aggregates the reader role. */
export async function installOperatorRbac(plane: ControlPlane): Promise<void> {
  await plane.ensureNamespace(operatorNamespace);
  const applied = await plane.kubectl(['apply', '-k', join(repoRoot, 'manifests/rbac')]);
  if (applied.code !== 0) throw new Error(`kubectl apply -k manifests/rbac failed: ${applied.stderr}`);
  await aggregateClusterRoles(plane);
}

export interface OperatorProcess {
  process: ManagedProcess;
  logPath: string;
  healthPort: number;
  /** The loopback port of its /metrics. */
  metricsPort: number;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export async function startOperator(
  plane: ControlPlane,
  opts: {
    sidecarSocket: string;
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** Return once the health server is up, without waiting for the controllers (a standby replica). */
    standby?: boolean;
  },
): Promise<OperatorProcess> {
  await installOperatorRbac(plane);
  const { path: kubeconfig } = await plane.serviceAccountKubeConfig(operatorNamespace, operatorServiceAccount);
  const dir = await tempDir('gco-operator-');
  const logPath = join(dir, 'operator.log');
  const proc = startProcess(
    join(repoRoot, 'node_modules/.bin/node'),
    [
      ...entryPoint('operator'),
      `--kubeconfig=${kubeconfig}`,
      `--sidecar-socket=${opts.sidecarSocket}`,
      '--health-address=127.0.0.1:0',
      '--metrics-address=127.0.0.1:0',
      '--log-level=debug',
      ...(opts.args ?? []),
    ],
    logPath,
    { env: { ...process.env, POD_NAMESPACE: operatorNamespace, ...opts.env } },
  );
  const logs = () => readFile(logPath, 'utf8').catch(() => '');
  let healthPort = 0;
  let metricsPort = 0;
  await waitFor(
    async () => {
      const text = await logs();
      healthPort = Number(/"healthPort":(\d+)/.exec(text)?.[1] ?? 0);
      metricsPort = Number(/"metricsPort":(\d+)/.exec(text)?.[1] ?? 0);
      return healthPort > 0 && (opts.standby === true || /"controllers started"/.test(text));
    },
    { timeoutMs: 30_000, describe: async () => `the operator did not start:\n${await logs()}` },
  );
  return { process: proc, logPath, healthPort, metricsPort, logs, stop: () => proc.stop(30_000) };
}
