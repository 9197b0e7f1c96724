/**
 * The cluster target: any cluster from KUBECONFIG with manifests/overlays/e2e deployed (the operator's
 * StatefulSet and the development git server). The suite reaches the git server through
 * `kubectl port-forward`; the operator reaches it at its Service's DNS name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { controlPlaneBinDir } from '@gco/testenv';
import { type E2ETarget, joinUrl, kubectlRunner, operatorNamespace } from './e2e-target.ts';

const gitService = 'gco-dev-git-server';

export async function connectClusterTarget(
  opts: { kubeconfig?: string; kubectlPath?: string } = {},
): Promise<E2ETarget> {
  const kubeconfig = opts.kubeconfig ?? (process.env.KUBECONFIG || join(homedir(), '.kube/config'));
  const kubectlPath = opts.kubectlPath ?? (process.env.KUBECTL || join(await controlPlaneBinDir(), 'kubectl'));
  const kubectl = kubectlRunner(kubectlPath, kubeconfig);
  const must = async (args: string[]) => {
    const r = await kubectl(args);
    if (r.code !== 0)
      throw new Error(
        `E2E_TARGET=cluster: kubectl ${args.join(' ')} failed: ${r.stderr.trim()}\n` +
          'Deploy manifests/overlays/e2e to the cluster of KUBECONFIG first (hack/kind-e2e.sh does).',
      );
    return r.stdout;
  };
  await must(['rollout', 'status', '-n', operatorNamespace, 'statefulset/git-change-operator', '--timeout=180s']);
  await must(['rollout', 'status', '-n', operatorNamespace, `deployment/${gitService}`, '--timeout=180s']);
  const token = Buffer.from(
    await must(['get', 'secret', '-n', operatorNamespace, gitService, '-o', 'jsonpath={.data.token}']),
    'base64',
  ).toString();
  const forward = await portForward(kubectlPath, kubeconfig);
  const base = `http://127.0.0.1:${forward.port}`;
  return {
    name: 'cluster',
    token,
    kubectl,
    operatorUrl: (repository) => joinUrl(`http://${gitService}.${operatorNamespace}.svc`, repository),
    suiteUrl: (repository) => joinUrl(base, repository),
    async diagnostics() {
      const logs = await kubectl([
        'logs',
        '-n',
        operatorNamespace,
        'statefulset/git-change-operator',
        '--all-containers',
        '--tail=60',
      ]);
      return logs.stdout + logs.stderr;
    },
    async stop() {
      forward.child.kill();
    },
  };
}

/** `kubectl port-forward svc/gco-dev-git-server :80`, and the local port it chose. */
function portForward(kubectlPath: string, kubeconfig: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(kubectlPath, ['port-forward', '-n', operatorNamespace, `svc/${gitService}`, ':80'], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl port-forward to ${gitService} did not start: ${output}`));
    }, 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ child, port: Number(port) });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward exited with ${code}: ${output}`));
    });
  });
}
