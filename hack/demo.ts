/**
 * The local demo: a real control plane, a local git server with an empty repository, and the samples
 * applied. Runs until Ctrl-C, which stops and removes everything.
 *
 * The operator and git sidecar are not written yet (issues 3 and 4): until they are, the GitCommit
 * is accepted and stored but nothing commits it. This demo says so rather than pretend.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlane, createBareRepository, GitHttpServer, repoRoot, tempDir } from '@gco/testenv';

const step = (text: string) => console.log(`\u001b[1m==>\u001b[0m ${text}`);

step('starting etcd and kube-apiserver on loopback');
const plane = await ControlPlane.start();
const root = await tempDir('gco-demo-');
step('starting a local git server (smart HTTP) with an empty repository');
await createBareRepository(join(root, 'repos/platform/cluster-config.git'));
const git = await new GitHttpServer({ root: join(root, 'repos') }).start();
const repoUrl = git.url('platform/cluster-config.git');

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

console.log(`
The control plane and git server are running.

  export KUBECONFIG=${plane.kubeconfigPath}
  export PATH=${join(plane.kubectlPath, '..')}:$PATH
  kubectl get gitcommits -A              # or: kubectl get gco -A
  kubectl explain gitcommit.spec.resourceReferences
  git clone ${repoUrl}

Not yet: the operator and git sidecar arrive with the next issues; until then the GitCommit is
validated and stored, but no commit is made.

Ctrl-C stops everything and removes its files.`);

const stop = async () => {
  await git.stop();
  await plane.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => {}, 60_000);
