/**
 * The local demo: a real control plane, a local git server with an empty repository, the git sidecar
 * and the operator as processes (the operator under the RBAC of manifests/rbac), and the samples
 * applied. Prints the commit the operator made, then keeps running until Ctrl-C, which stops and
 * removes everything.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ControlPlane,
  createBareRepository,
  GitHttpServer,
  repoRoot,
  runOk,
  startOperator,
  startSidecar,
  tempDir,
} from '@gco/testenv';

const step = (text: string) => console.log(`\u001b[1m==>\u001b[0m ${text}`);

step('starting etcd and kube-apiserver on loopback, installing the CRDs');
const plane = await ControlPlane.start();
const root = await tempDir('gco-demo-');
step('starting a local git server (smart HTTP) with an empty repository');
const repoDir = join(root, 'repos/platform/cluster-config.git');
await createBareRepository(repoDir);
const git = await new GitHttpServer({ root: join(root, 'repos') }).start();
const repoUrl = git.url('platform/cluster-config.git');
step('starting the git sidecar and the operator (as its ServiceAccount, with the RBAC of manifests/rbac)');
const sidecar = await startSidecar();
const operator = await startOperator(plane, { sidecarSocket: sidecar.socketPath });

step('applying manifests/samples (a ConfigMap and a GitCommit)');
const sample = (await readFile(join(repoRoot, 'manifests/samples/gitcommit.yaml'), 'utf8')).replace(
  'https://git.example.com/platform/cluster-config.git',
  repoUrl,
);
for (const input of [await readFile(join(repoRoot, 'manifests/samples/app-config.yaml'), 'utf8'), sample]) {
  const applied = await plane.kubectl(['apply', '-f', '-'], { input });
  if (applied.code !== 0) throw new Error(applied.stderr);
  process.stdout.write(applied.stdout);
}
step('kubectl wait --for=condition=Ready gitcommit/app-config-backup');
const waited = await plane.kubectl(['wait', '--for=condition=Ready', 'gitcommit/app-config-backup', '--timeout=60s']);
if (waited.code !== 0) {
  console.error(waited.stderr, await operator.logs());
  process.exit(1);
}
console.log((await plane.kubectl(['get', 'gitcommit', 'app-config-backup'])).stdout);
step(`git log --stat (${repoUrl})`);
console.log(await runOk('git', ['--git-dir', repoDir, 'log', '--stat', 'main']));
step('clusters/demo/app-config/app.properties at the tip');
console.log(await runOk('git', ['--git-dir', repoDir, 'show', 'main:clusters/demo/app-config/app.properties']));

console.log(`Everything keeps running. Try:

  export KUBECONFIG=${plane.kubeconfigPath}
  export PATH=${join(plane.kubectlPath, '..')}:$PATH
  kubectl get gco -A
  kubectl describe gitcommit app-config-backup
  kubectl patch configmap app-config --type=merge -p '{"data":{"log-level":"debug"}}'
  kubectl annotate --overwrite gitcommit app-config-backup gco.galos.one/reconcile-requested-at="$(date +%s)"
  git clone ${repoUrl}

Metrics: curl http://127.0.0.1:${operator.metricsPort}/metrics (operator), http://127.0.0.1:${sidecar.metricsPort}/metrics (sidecar)
Logs: operator ${operator.logPath}, sidecar ${sidecar.logPath}
Ctrl-C stops everything and removes its files.`);

const stop = async () => {
  await operator.stop();
  await sidecar.stop();
  await git.stop();
  await plane.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => {}, 60_000);
