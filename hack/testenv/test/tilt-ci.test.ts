// `tilt ci` with the repository's Tiltfile, on a test node of its own: what `tilt up` does on a kind
// cluster with a local registry, done for real. Tilt builds the three images from their Dockerfiles
// with the harness's Docker engine, pushes them to a local registry the node pulls from (advertised to
// Tilt as kind's documentation advertises one), applies the development overlay and the samples, and
// waits for every resource. The Tiltfile is the one kind users run; only the context name and the
// engine's build settings (GCO_BUILD_*) differ.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import {
  Cluster,
  controlPlaneBinDir,
  type Docker,
  images,
  LocalRegistry,
  repoRoot,
  run,
  type TiltBinaries,
  tempDir,
  tiltBinaries,
  useDocker,
  waitFor,
  withDockerfileInputs,
} from '../src/index.ts';

/** The context name the Tiltfile allows besides kind's (a throwaway cluster, as kind's are). */
const context = 'gco-test-node';
const builtImages = Object.values(images).map((i) => i.name);

describe('tilt ci on a test node (the development loop, as on kind with a local registry)', function () {
  // Cold, Tilt builds the three images (the base is buildImages' cache); warm, BuildKit's cache.
  this.timeout(2_400_000);
  let bins: TiltBinaries;
  let cluster: Cluster;
  let docker: Docker;
  let registry: LocalRegistry;
  let dir: string;
  let result: { code: number | null; output: string; seconds: number };

  before(async () => {
    bins = await tiltBinaries();
    dir = await tempDir('gco-tilt-ci-');
    cluster = await Cluster.start();
    docker = await useDocker();
    registry = await LocalRegistry.start(cluster, bins.registry);
    // The admin's kubeconfig under the context name the Tiltfile allows.
    const admin = cluster.plane.admin();
    const kubeconfig = new k8s.KubeConfig();
    kubeconfig.loadFromOptions({
      clusters: admin.clusters,
      users: admin.users,
      contexts: [{ name: context, cluster: admin.clusters[0]?.name as string, user: admin.users[0]?.name as string }],
      currentContext: context,
    });
    await writeFile(join(dir, 'kubeconfig'), kubeconfig.exportConfig(), { mode: 0o600 });

    // Tilt's kustomize() runs `kubectl kustomize`.
    const path = `${await controlPlaneBinDir()}:${process.env.PATH ?? '/usr/bin:/bin'}`;
    const started = Date.now();
    const tilt = await withDockerfileInputs(docker, (caSecret) => {
      // On the node, so that Tilt's web server and port forwards (8080...) bind its own loopback, never
      // this machine's, where other runs and developers are.
      const [command, args] = cluster.command(bins.tilt, [
        'ci',
        `--file=${join(repoRoot, 'Tiltfile')}`,
        '--timeout=20m',
      ]);
      return run(command, args, {
        cwd: repoRoot,
        timeoutMs: 1_500_000,
        env: {
          ...docker.env,
          KUBECONFIG: join(dir, 'kubeconfig'),
          PATH: path,
          TILT_DEV_DIR: join(dir, 'tilt-dev'),
          TILT_DISABLE_ANALYTICS: '1',
          // The engine has no bridge network; npm reaches its registry through this machine's proxy.
          GCO_BUILD_NETWORK: 'host',
          GCO_BUILD_CA_CERTIFICATES: caSecret,
        },
      });
    });
    result = {
      code: tilt.code,
      output: tilt.stdout + tilt.stderr,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    await writeFile(join(dir, 'tilt.log'), result.output);
  });

  after(async () => {
    await registry?.stop();
    await cluster?.stop();
    if (docker) {
      // What Tilt built and tagged for this run's registry; the layers stay in BuildKit's cache.
      const refs = (await docker.ok(['images', '--format', '{{.Repository}}:{{.Tag}}']))
        .split('\n')
        .filter((r) => registry && r.startsWith(`${registry.host}/`));
      if (refs.length > 0) await docker.run(['rmi', ...refs]);
      await docker.release();
    }
  });

  const tail = () => result.output.trimEnd().split('\n').slice(-60).join('\n');

  it('ends 0 with every workload healthy', () => {
    assert.equal(result.code, 0, `tilt ci exited ${result.code}:\n${tail()}`);
    assert.match(result.output, /SUCCESS\. All workloads are healthy\./, tail());
    process.stderr.write(`[figure] tilt ci on the test node, builds to every resource ready (s): ${result.seconds}\n`);
  });

  it('runs the images Tilt built, pulled by the node from the local registry', async () => {
    assert.deepEqual((await registry.repositories()).sort(), [...builtImages].sort());
    const core = cluster.plane.admin().makeApiClient(k8s.CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: 'git-change-operator-system' })).items;
    const running = pods.flatMap((p) => p.spec?.containers ?? []).map((c) => c.image as string);
    for (const name of builtImages) {
      assert.ok(
        running.some((image) => image.startsWith(`${registry.hostFromContainerRuntime}/${name}:tilt-`)),
        `no container runs ${name} from ${registry.hostFromContainerRuntime} (images: ${running.join(', ')})`,
      );
    }
    for (const p of pods) {
      assert.ok(
        (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        `${p.metadata?.name} is not Ready`,
      );
    }
  });

  it('commits the sample through the operator Tilt deployed, to the development git server', async () => {
    const custom = cluster.plane.admin().makeApiClient(k8s.CustomObjectsApi);
    let last: any;
    await waitFor(
      async () => {
        last = await custom.getNamespacedCustomObject({
          group: 'gco.galos.one',
          version: 'v1',
          namespace: 'default',
          plural: 'gitcommits',
          name: 'app-config-backup',
        });
        return (last.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
      },
      { timeoutMs: 120_000, describe: () => `app-config-backup is not Ready: ${JSON.stringify(last?.status)}` },
    );
    assert.match(last.status.commitSHA ?? '', /^[0-9a-f]{40}$/);
  });
});
