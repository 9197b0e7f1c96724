// The three images, built from their Dockerfiles by a real Docker engine (hack/testenv/src/images.ts),
// looked into layer by layer, and run as their manifests run them: uid 65532, a read-only root
// filesystem, no capabilities, their args, env and volumes.
import assert from 'node:assert/strict';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSidecarClient } from '@gco/sidecar-api';
import { fileAt } from '@gco/testenv';
import { commitRequest, sshCredentials } from '@gco/testenv/sidecar';
import { parse } from 'yaml';
import { certificateNeedles, findInImage, type ImageArchive, readImageArchive } from '../src/image-archive.ts';
import {
  type BuiltImages,
  buildImages,
  createBareRepository,
  type Docker,
  devTag,
  type ImageKey,
  images,
  installOperatorRbac,
  loadImage,
  machineCertificates,
  operatorNamespace,
  operatorServiceAccount,
  repoRoot,
  run,
  runOk,
  SshGitServer,
  secretCanary,
  sharedControlPlane,
  sharedDocker,
  tarEntries,
  tempDir,
  waitFor,
} from '../src/index.ts';
import { type ManifestContainer, runManifestContainer } from '../src/manifest-container.ts';

const keys = Object.keys(images) as ImageKey[];

/** The instructions of a Dockerfile's last stage, continuation lines joined. */
function finalStage(dockerfile: string): string[] {
  const lines = dockerfile
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const from = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  return lines.slice(from);
}

/** Regular files of every layer, with their size, bottom layer first. */
function* layerFiles(image: ImageArchive): Generator<{ path: string; size: number; data: Buffer }> {
  for (const layer of image.layers) {
    for (const entry of tarEntries(layer.tar)) {
      if (entry.type === '0') yield { path: entry.name, size: entry.size, data: entry.data };
    }
  }
}

interface LockedPackage {
  version?: string;
  integrity?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
type Lockfile = Record<string, LockedPackage>;

/** What the lockfile installs for `workspaces` and none else: their dependencies, resolved as Node does. */
function lockedFor(lock: Lockfile, workspaces: string[]): Set<string> {
  const reached = new Set<string>();
  const visit = (path: string) => {
    const pkg = lock[path];
    if (!pkg || reached.has(path)) return;
    reached.add(path);
    if (pkg.link && pkg.resolved) return visit(pkg.resolved);
    const names = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies });
    for (const name of names) {
      // The nearest node_modules/<name> up from the package's own directory.
      for (let dir = path; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
        const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
        if (lock[candidate]) {
          visit(candidate);
          break;
        }
        if (!dir) break;
      }
    }
  };
  for (const workspace of workspaces) visit(workspace);
  return reached;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

describe('container images, built from their Dockerfiles', function () {
  // A cold build makes the base (debootstrap) and all three images: minutes on two cores.
  this.timeout(3_600_000);
  let built: BuiltImages;
  let docker: Docker;
  const archives = new Map<ImageKey, ImageArchive>();

  before(async () => {
    built = await buildImages();
    docker = await sharedDocker();
    for (const k of keys) {
      await loadImage(docker, built[k]);
      archives.set(k, await readImageArchive(built[k].archive));
    }
  });

  it('builds each image from its Dockerfile as committed, into an archive tagged as manifests/overlays/e2e runs it', async () => {
    const overlay = parse(await readFile(join(repoRoot, 'manifests/overlays/e2e/kustomization.yaml'), 'utf8')) as {
      images: Array<{ name: string; newTag: string }>;
    };
    for (const k of keys) {
      const image = built[k];
      const archive = archives.get(k) as ImageArchive;
      assert.equal(image.tag, `${images[k].name}:${devTag}`);
      assert.deepEqual(
        overlay.images.find((i) => i.name === images[k].name),
        { name: images[k].name, newTag: devTag },
        `the e2e overlay runs ${image.tag}`,
      );
      assert.deepEqual(archive.repoTags.sort(), [image.ref, image.tag].sort(), `${image.archive}: its tags`);
      assert.equal(archive.id, image.id, `${image.archive} holds the image built`);
      assert.equal(archive.config.json.config?.Labels?.['gco.inputs'], image.ref.split(':')[1]);
      // The Dockerfile's last stage, as it is, made the image: each RUN and COPY is a step of its
      // history, and its user, directory and entrypoint are the image's.
      const history = (await docker.ok(['history', '--no-trunc', '--format={{.CreatedBy}}', image.ref]))
        .split('\n')
        .map((h) => h.replace(/\s+/g, ' '));
      const config = archive.config.json.config ?? {};
      for (const instruction of finalStage(await readFile(join(repoRoot, images[k].dockerfile), 'utf8'))) {
        const [verb, ...rest] = instruction.split(/\s+/);
        const step = (text: string) =>
          assert.ok(
            history.some((h) => h.includes(text)),
            `${image.ref}: "${instruction}" is not in its history:\n${history.join('\n')}`,
          );
        switch (verb?.toUpperCase()) {
          case 'RUN':
            step(rest.join(' '));
            break;
          case 'COPY':
            step(`COPY ${rest.filter((p) => !p.startsWith('--')).join(' ')}`);
            break;
          case 'USER':
            assert.equal(config.User, rest[0]);
            break;
          case 'WORKDIR':
            assert.equal(config.WorkingDir, rest[0]);
            break;
          case 'ENTRYPOINT':
            assert.deepEqual(config.Entrypoint, JSON.parse(rest.join(' ')));
            break;
        }
      }
    }
  });

  it('a warm run builds nothing', async () => {
    const again = await buildImages({ log: () => {} });
    for (const k of keys) {
      assert.equal(again[k].built, false, `${again[k].tag} was built again`);
      assert.equal(again[k].id, built[k].id);
      assert.equal(again[k].archive, built[k].archive);
    }
  });

  it("no layer of any image holds the machine's CA certificates or anything else of the build secret", async () => {
    const canary = await secretCanary();
    const needles = [
      ...certificateNeedles(canary, 'the build secret canary'),
      ...(await machineCertificates()).flatMap((pem, i) => certificateNeedles(pem, `machine CA #${i + 1}`)),
    ];
    // What could be found: a layer holding the secret as it was given, and as DER.
    const dir = await tempDir();
    await mkdir(join(dir, 'etc/ssl/certs'), { recursive: true });
    await writeFile(join(dir, 'etc/ssl/certs/leaked.pem'), canary);
    const der = certificateNeedles(canary, 'x')[0]?.bytes as Buffer;
    await writeFile(join(dir, 'etc/ssl/certs/leaked.der'), der);
    await runOk('tar', ['-C', dir, '-cf', join(dir, 'layer.tar'), 'etc']);
    const leaky: ImageArchive = {
      repoTags: [],
      id: '',
      config: { raw: Buffer.from('{}'), json: {} },
      layers: [{ path: 'leaky/layer.tar', tar: await readFile(join(dir, 'layer.tar')) }],
    };
    assert.deepEqual([...new Set(findInImage(leaky, needles).map((f) => f.where))].sort(), [
      'leaky/layer.tar:etc/ssl/certs/leaked.der',
      'leaky/layer.tar:etc/ssl/certs/leaked.pem',
    ]);

    for (const k of keys) {
      const found = findInImage(archives.get(k) as ImageArchive, needles);
      assert.deepEqual(found, [], `${built[k].tag} holds the build's CA certificates`);
    }
  });

  it('holds no development dependencies, tests or build secrets, and names its user (sizes below)', async () => {
    const lock = (JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Lockfile })
      .packages;
    // What package-lock.json marks as needed for development only (compilers, linters, test runners,
    // the `node` package that brings Node to the tests).
    const devOnly = Object.entries(lock)
      .filter(([path, pkg]) => pkg.dev && /^node_modules\/((@[^/]+\/)?[^/]+)$/.test(path))
      .map(([path]) => path.slice('node_modules/'.length));
    assert.ok(devOnly.includes('typescript') && devOnly.includes('node'));
    const report: string[] = [];
    for (const k of keys) {
      const archive = archives.get(k) as ImageArchive;
      const paths = new Set<string>();
      const parts: Record<string, number> = { node: 0, npm: 0, node_modules: 0, sources: 0, debian: 0 };
      const packages = new Map<string, number>();
      let passwd = '';
      let installed: Lockfile = {};
      for (const file of layerFiles(archive)) {
        paths.add(file.path);
        if (file.path === 'etc/passwd') passwd = file.data.toString();
        if (file.path === 'app/node_modules/.package-lock.json') {
          installed = (JSON.parse(file.data.toString()) as { packages: Lockfile }).packages;
        }
        const pkg = /^app\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file.path)?.[1];
        if (pkg) packages.set(pkg, (packages.get(pkg) ?? 0) + file.size);
        if (file.path === 'usr/local/bin/node') parts.node = (parts.node ?? 0) + file.size;
        else if (file.path.startsWith('usr/local/lib/node_modules/npm/')) parts.npm = (parts.npm ?? 0) + file.size;
        else if (pkg) parts.node_modules = (parts.node_modules ?? 0) + file.size;
        else if (file.path.startsWith('app/')) parts.sources = (parts.sources ?? 0) + file.size;
        else parts.debian = (parts.debian ?? 0) + file.size;
      }
      for (const dev of devOnly) {
        assert.ok(!packages.has(dev), `${built[k].tag} holds ${dev}, which only development needs`);
      }
      // Exactly the lockfile's packages, and only those of the workspaces the image runs.
      const workspaces = ['operator', 'git-sidecar', 'hack/testenv'].filter((w) => paths.has(`app/${w}/package.json`));
      const wanted = lockedFor(lock, workspaces);
      const npmPackages = Object.entries(installed).filter(
        ([path, pkg]) => path.startsWith('node_modules/') && !pkg.link,
      );
      assert.ok(npmPackages.length > 10, `${built[k].tag}: no node_modules/.package-lock.json`);
      for (const [path, pkg] of npmPackages) {
        assert.ok(wanted.has(path), `${built[k].tag} holds ${path}, which none of ${workspaces.join(', ')} needs`);
        assert.deepEqual(
          { version: pkg.version, integrity: pkg.integrity },
          { version: lock[path]?.version, integrity: lock[path]?.integrity },
          `${built[k].tag}: ${path} is not the lockfile's`,
        );
      }
      const tests = [...paths].filter((p) => /^app\/(operator|git-sidecar|hack\/testenv)\/(test|bench)\//.test(p));
      assert.deepEqual(tests, [], `${built[k].tag} holds tests`);
      assert.ok(![...paths].some((p) => p.startsWith('run/secrets/')), `${built[k].tag} holds /run/secrets`);
      assert.match(passwd, /^nonroot:x:65532:65532:/m, `${built[k].tag}: /etc/passwd names uid 65532`);

      const history = await docker.ok(['history', '--format={{.Size}}\t{{.CreatedBy}}', built[k].ref]);
      const top = [...packages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
      report.push(
        `${built[k].tag}: ${mb(built[k].bytes)}` +
          `${built[k].buildSeconds ? `, built in ${built[k].buildSeconds} s` : ''}`,
        `  ${Object.entries(parts)
          .map(([part, bytes]) => `${part} ${mb(bytes)}`)
          .join(', ')}`,
        `  largest packages: ${top.map(([p, bytes]) => `${p} ${mb(bytes)}`).join(', ')}`,
        ...history
          .trim()
          .split('\n')
          .filter((l) => !/^0B/.test(l))
          .map((l) => `  layer ${l.slice(0, 110)}`),
      );
    }
    console.log(`\n${report.join('\n')}\n`);
  });

  describe("the StatefulSet's two containers (manifests/manager/statefulset.yaml), as a kubelet runs them", () => {
    const statefulSet = 'manifests/manager/statefulset.yaml';
    let root: string;
    let ssh: SshGitServer;
    let sidecar: ManifestContainer;
    let operator: ManifestContainer | undefined;
    let socketDir: string;

    before(async () => {
      root = await tempDir();
      await createBareRepository(join(root, 'repos/images.git'), { files: 3 });
      ssh = await new SshGitServer(join(root, 'repos')).start();
      socketDir = await tempDir('gco-socket-');
      sidecar = await runManifestContainer(docker, {
        manifest: statefulSet,
        container: 'git-sidecar',
        image: built.sidecar.ref,
        volumes: { socket: socketDir },
      });
      await waitFor(async () => (await run('test', ['-S', join(socketDir, 'sidecar.sock')])).code === 0, {
        timeoutMs: 60_000,
        describe: async () => `the sidecar did not listen on its socket:\n${await sidecar.logs()}`,
      });
    });
    after(async () => {
      await operator?.remove();
      await sidecar?.remove();
      await ssh?.stop();
    });

    it('git sidecar: runs as uid 65532 on a read-only root, serves on its socket and /healthz, and commits over SSH', async () => {
      assert.equal((await sidecar.exec(['id', '-u'])).stdout.trim(), '65532');
      assert.equal((await sidecar.exec(['id', '-un'])).stdout.trim(), 'nonroot');
      const write = await sidecar.exec(['touch', '/app/x']);
      assert.match(write.stderr, /Read-only file system/);
      // What the passwd entry is for: OpenSSH will not start for a uid the image does not list.
      const sshAs = (user: string) =>
        docker.run([
          'run',
          '--rm',
          '--read-only',
          `--user=${user}`,
          '--network=none',
          '--entrypoint=ssh',
          built.sidecar.ref,
          '-G',
          'example.com',
        ]);
      assert.match((await sshAs('12345:12345')).stderr, /No user exists for uid 12345/);
      const listed = await sshAs('65532:65532');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^user nonroot$/m);
      const health = await fetch(`http://127.0.0.1:${sidecar.ports['--metrics-address']}/healthz`);
      assert.equal(health.status, 200);

      // A clone, a commit and a push over SSH: ssh itself runs in the container, as 65532.
      const client = createSidecarClient({ socketPath: join(socketDir, 'sidecar.sock') });
      const res = await client.commit(
        commitRequest({
          url: ssh.url('images.git'),
          credentials: sshCredentials(ssh.clientKey.privateKey, ssh.knownHosts),
          ops: [{ path: 'sidecar-image.txt', content: 'over ssh from the image\n' }],
        }),
      );
      assert.equal(res.pushed, true, await sidecar.logs());
      assert.equal(
        await fileAt(join(root, 'repos/images.git'), 'main', 'sidecar-image.txt'),
        'over ssh from the image\n',
      );
    });

    it('operator: starts against the test control plane beside the sidecar container, is ready, and commits a GitCommit over SSH', async () => {
      const plane = await sharedControlPlane();
      await installOperatorRbac(plane);
      const { path } = await plane.serviceAccountKubeConfig(operatorNamespace, operatorServiceAccount);
      // Readable by the pod's user only, as a projected token is.
      const kube = await tempDir('gco-kubeconfig-');
      await writeFile(join(kube, 'config'), await readFile(path), { mode: 0o600 });
      await chown(kube, 65532, 65532);
      await chown(join(kube, 'config'), 65532, 65532);
      operator = await runManifestContainer(docker, {
        manifest: statefulSet,
        container: 'manager',
        image: built.operator.ref,
        volumes: { socket: socketDir },
        mounts: { [kube]: '/var/run/gco-kube' },
        // Outside a cluster: its ServiceAccount's token in a kubeconfig, and a Lease of its own.
        args: ['--kubeconfig=/var/run/gco-kube/config', '--leader-election-id=gco-images-test'],
      });
      const healthPort = operator.ports['--health-address'];
      await waitFor(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200, {
        timeoutMs: 60_000,
        describe: async () => `the operator did not become ready:\n${await operator?.logs()}`,
      });

      const ns = 'gc-images';
      await plane.ensureNamespace(ns);
      const apply = async (obj: unknown) => {
        const applied = await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
        assert.equal(applied.code, 0, applied.stderr);
      };
      await apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'ssh-credentials', namespace: ns },
        type: 'kubernetes.io/ssh-auth',
        stringData: { 'ssh-privatekey': ssh.clientKey.privateKey, known_hosts: `${ssh.knownHosts}\n` },
      });
      await apply({
        apiVersion: 'gco.galos.one/v1',
        kind: 'GitCommit',
        metadata: { name: 'from-the-images', namespace: ns },
        spec: {
          repository: { url: ssh.url('images.git'), branch: 'main' },
          auth: { secretName: 'ssh-credentials' },
          commit: { message: 'From the operator image' },
          files: [{ path: 'operator-image.txt', content: 'through both images\n' }],
        },
      });
      await waitFor(
        async () =>
          (await fileAt(join(root, 'repos/images.git'), 'main', 'operator-image.txt')) === 'through both images\n',
        {
          timeoutMs: 60_000,
          describe: async () => `nothing was committed:\n${await operator?.logs()}\n${await sidecar.logs()}`,
        },
      );
    });

    it('both stop with 0 on SIGTERM (docker stop) within the pod grace period', async () => {
      for (const container of [operator, sidecar]) {
        if (!container) continue;
        const started = Date.now();
        const code = await container.stop();
        console.log(`    ${container.name} stopped in ${Date.now() - started} ms`);
        assert.equal(code, 0, await container.logs());
        assert.match(await container.logs(), /"stopped"/);
      }
    });
  });

  it('development git server (manifests/dev/git-server): serves git over HTTP as uid 65532 on a read-only root, and stops with 0 on docker stop', async () => {
    const token = 'gco-image-test-token';
    const secret = await tempDir('gco-token-');
    await writeFile(join(secret, 'token'), `${token}\n`);
    const server = await runManifestContainer(docker, {
      manifest: 'manifests/dev/git-server/deployment.yaml',
      container: 'git-server',
      image: built.devGitServer.ref,
      volumes: { token: secret },
    });
    try {
      const base = `http://127.0.0.1:${server.ports['--listen']}`;
      await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, {
        timeoutMs: 60_000,
        describe: async () => `it did not start:\n${await server.logs()}`,
      });
      const work = await tempDir();
      const env = {
        ...process.env,
        GIT_TERMINAL_PROMPT: '0',
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
      };
      // The repository of its --repository flag, made at start in its volume, cloned and pushed to.
      await runOk('git', ['clone', '-q', `${base}/platform/cluster-config.git`, join(work, 'c')], { env });
      await writeFile(join(work, 'c/a.txt'), 'a\n');
      await runOk('git', ['-C', join(work, 'c'), 'add', 'a.txt']);
      await runOk('git', [
        '-C',
        join(work, 'c'),
        '-c',
        'user.name=T',
        '-c',
        'user.email=t@example.com',
        'commit',
        '-qm',
        'a',
      ]);
      await runOk('git', ['-C', join(work, 'c'), 'push', '-q', 'origin', 'HEAD:main'], { env });
      assert.equal((await fetch(`${base}/platform/cluster-config.git/info/refs?service=git-upload-pack`)).status, 401);

      const started = Date.now();
      const code = await server.stop();
      console.log(`    the development git server stopped in ${Date.now() - started} ms`);
      assert.equal(code, 0, await server.logs());
      assert.match(await server.logs(), /"stopped"/);
    } finally {
      await server.remove();
    }
  });
});
