/**
 * The project's three images, built for real from their own Dockerfiles by a private Docker engine
 * (docker.ts), and saved as `docker save` archives that a node's containerd imports
 * (`ctr -n k8s.io images import <archive>`), each tagged with the `:dev` tag manifests/overlays/e2e runs.
 *
 * No registry is reachable from these machines, so the Dockerfiles' `FROM node:24-slim` is made here:
 * a Debian root filesystem from debootstrap (hack/images/debian-rootfs.sh), imported, with Node and npm
 * from the npm registry's packages (hack/images/node-base.Dockerfile), tagged as that name.
 *
 * The machine's CA certificates (a TLS-inspecting proxy between it and the npm registry) reach the
 * builds only as a BuildKit secret, which no layer keeps; a canary certificate goes into that secret
 * too, so that a test can look for it in every layer on any machine.
 *
 * Everything is cached by a hash of its inputs under the cache directory (cache.ts): a warm run builds
 * nothing and does not even start the engine. Each entry is made under its own lock.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDir, cachedEntry, uniqueTemp, withLock } from './cache.ts';
import { type Docker, useDocker } from './docker.ts';
import { repoRoot } from './paths.ts';
import { runOk } from './processes.ts';
import { tempDir } from './temp.ts';

/** Changes when how an image is made changes, so that every cached image is rebuilt. */
const recipe = 'gco-images-1';

export const images = {
  operator: { name: 'git-change-operator', dockerfile: 'operator/Dockerfile' },
  sidecar: { name: 'git-change-operator-git-sidecar', dockerfile: 'git-sidecar/Dockerfile' },
  devGitServer: { name: 'gco-dev-git-server', dockerfile: 'hack/testenv/Dockerfile' },
} as const;
export type ImageKey = keyof typeof images;

/** The tag manifests/overlays/e2e (and the development overlay) runs. */
export const devTag = 'dev';

/** npm in the base image, as the official node image bundles one. */
export const npmVersion = '11.19.1';

export const imagesDir = join(cacheDir, 'images');

export interface BuiltImage {
  /** The image's name in the manifests, such as `git-change-operator`. */
  name: string;
  /** `<name>:dev`: the tag the e2e overlay runs, which the archive carries. */
  tag: string;
  /** `<name>:<inputs hash>`: the same image under a tag nobody moves, which the archive carries too. */
  ref: string;
  /** The image ID (`sha256:` of its config), the same in Docker and in containerd. */
  id: string;
  /** A `docker save` archive of the image. */
  archive: string;
  /** The image's size as Docker reports it (its layers, uncompressed). */
  bytes: number;
  /** Seconds its build took, when it was built. */
  buildSeconds: number;
  /** Whether this call built it (false: it came from the cache). */
  built: boolean;
}

export type BuiltImages = Record<ImageKey, BuiltImage>;

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[images] ${line}\n`);

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The COPY sources (not --from) of a Dockerfile, relative to the context. */
export function copySources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const [instruction, ...rest] = line.trim().split(/\s+/);
    if (instruction?.toUpperCase() !== 'COPY' && instruction?.toUpperCase() !== 'ADD') continue;
    if (rest.some((p) => p.startsWith('--from='))) continue;
    const paths = rest.filter((p) => !p.startsWith('--'));
    sources.push(...paths.slice(0, -1));
  }
  return sources;
}

/** The images a Dockerfile starts from (stage names excluded). */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line.trim());
    if (!from) continue;
    if (!stages.has(from[1] as string)) bases.push(from[1] as string);
    if (from[2]) stages.add(from[2]);
  }
  return [...new Set(bases)];
}

/**
 * A hash of every file under `paths` (relative to `root`): path, executable bit, content. Skips what
 * the repository's .dockerignore keeps out of the context (node_modules, .git); hashing more than
 * Docker copies costs a rebuild at worst, hashing less would reuse a stale image.
 */
async function hashTree(root: string, paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (rel: string) => {
    const full = join(root, rel);
    const info = await lstat(full);
    if (info.isDirectory()) {
      const names = (await readdir(full)).filter((n) => n !== 'node_modules' && n !== '.git').sort();
      for (const name of names) await visit(join(rel, name));
    } else if (info.isSymbolicLink()) {
      hash.update(`${rel}\0link\0${await readlink(full)}\0`);
    } else if (info.isFile()) {
      hash.update(`${rel}\0${info.mode & 0o111 ? 'x' : '-'}\0${sha256(await readFile(full))}\0`);
    }
  };
  for (const path of [...new Set(paths)].sort()) {
    if (!existsSync(join(root, path))) throw new Error(`${path} is copied into an image but does not exist`);
    await visit(path);
  }
  return hash.digest('hex');
}

async function nodeVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const version = pkg.devDependencies.node;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`package.json: devDependencies.node is ${version}`);
  return version;
}

const nodePackage = () => `node-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;

/** A package tarball from the npm registry (`npm pack`), cached. */
async function npmTarball(name: string, version: string): Promise<string> {
  const path = join(imagesDir, 'npm', `${name}-${version}.tgz`);
  await cachedEntry(path, async (temp) => {
    const dir = await tempDir('gco-npm-pack-');
    const out = await runOk('npm', ['pack', `${name}@${version}`, '--pack-destination', dir, '--json'], {
      timeoutMs: 600_000,
    });
    const [packed] = JSON.parse(out) as [{ filename: string }];
    await rename(join(dir, packed.filename), temp);
  });
  return path;
}

interface BaseSpec {
  suite: string;
  mirror: string;
  /** The root filesystem's inputs. */
  rootfsKey: string;
  node: string;
  /** Every input of the base image. */
  key: string;
}

async function baseSpec(): Promise<BaseSpec> {
  const suite = process.env.GCO_DEBIAN_SUITE ?? 'bookworm';
  const mirror = process.env.GCO_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const script = await readFile(join(repoRoot, 'hack/images/debian-rootfs.sh'), 'utf8');
  const rootfsKey = sha256([recipe, suite, mirror, script].join('\0')).slice(0, 16);
  const node = await nodeVersion();
  const dockerfile = await readFile(join(repoRoot, 'hack/images/node-base.Dockerfile'), 'utf8');
  const key = sha256([recipe, rootfsKey, node, npmVersion, process.arch, dockerfile].join('\0')).slice(0, 16);
  return { suite, mirror, rootfsKey, node, key };
}

/** Debian's minimal root filesystem as a tar (debootstrap), cached. */
async function debianRootfs(spec: BaseSpec, log: Log): Promise<string> {
  const path = join(imagesDir, `debian-${spec.suite}-minbase-${spec.rootfsKey}.tar`);
  await cachedEntry(path, async (temp) => {
    log(`making a Debian ${spec.suite} root filesystem with debootstrap (first time only, a few minutes)`);
    const started = Date.now();
    await runOk('bash', [join(repoRoot, 'hack/images/debian-rootfs.sh'), temp], {
      timeoutMs: 1_800_000,
      env: { ...process.env, GCO_DEBIAN_SUITE: spec.suite, GCO_DEBIAN_MIRROR: spec.mirror },
    });
    log(`root filesystem ready in ${seconds(started)} s`);
  });
  return path;
}

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  return (await docker.run(['image', 'inspect', '--format', '{{.Id}}', ref])).code === 0;
}

/** The base image (`gco-node-base:<key>`), made in the engine if it does not have it. */
async function nodeBase(docker: Docker, spec: BaseSpec, log: Log): Promise<string> {
  const ref = `gco-node-base:${spec.key}`;
  await withLock(join(imagesDir, `node-base-${spec.key}.lock`), async () => {
    if (await imageExists(docker, ref)) return;
    const started = Date.now();
    const rootfsRef = `gco-debian-minbase:${spec.rootfsKey}`;
    if (!(await imageExists(docker, rootfsRef))) {
      await docker.ok(['import', await debianRootfs(spec, log), rootfsRef], { timeoutMs: 600_000 });
    }
    const context = await tempDir('gco-node-base-');
    await copyFile(await npmTarball(nodePackage(), spec.node), join(context, 'node.tgz'));
    await copyFile(await npmTarball('npm', npmVersion), join(context, 'npm.tgz'));
    log(`building the base image: Debian ${spec.suite}, Node ${spec.node}, npm ${npmVersion} (first time only)`);
    const dockerfile = join(repoRoot, 'hack/images/node-base.Dockerfile');
    await build(docker, ['--build-arg', `ROOTFS=${rootfsRef}`, '-f', dockerfile, '-t', ref, context], ref);
    log(`base image ready in ${seconds(started)} s`);
  });
  return ref;
}

const buildLog = (ref: string) => join(imagesDir, 'logs', `${ref.replace(/[/:]/g, '_')}.log`);

async function build(docker: Docker, args: string[], what: string): Promise<void> {
  // Builds reach the registries through the host's network: the engine has no bridge.
  const result = await docker.run(['build', '--network=host', '--progress=plain', ...args], {
    timeoutMs: 1_800_000,
  });
  const logPath = buildLog(what);
  await mkdir(dirname(logPath), { recursive: true });
  await writeFile(logPath, result.stderr + result.stdout);
  if (result.code !== 0) {
    const tail = (result.stderr + result.stdout).split('\n').slice(-40).join('\n');
    throw new Error(`building ${what} failed (log: ${logPath}):\n${tail}`);
  }
}

/** A certificate that no image may contain: it goes into every build's CA secret (see the tests). */
export async function secretCanary(): Promise<string> {
  const path = join(imagesDir, 'build-secret-canary.pem');
  await cachedEntry(path, async (temp) => {
    await runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-subj',
      '/CN=gco build secret canary',
      '-days',
      '36500',
      '-out',
      temp,
    ]);
  });
  return readFile(path, 'utf8');
}

const pemsIn = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

async function certificatesIn(paths: string[]): Promise<string[]> {
  const pems: string[] = [];
  for (const path of paths) pems.push(...pemsIn(await readFile(path, 'utf8').catch(() => '')));
  return [...new Set(pems)];
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map((f) => join(dir, f)).filter((f) => /\.(crt|pem)$/.test(f));
}

/**
 * The CA certificates npm needs to reach the registry from this machine: the local ones
 * (/usr/local/share/ca-certificates) and NODE_EXTRA_CA_CERTS (here the whole system bundle). Given to
 * the builds as their `ca-certificates` secret.
 */
async function buildCertificates(): Promise<string[]> {
  const extra = process.env.NODE_EXTRA_CA_CERTS ? [process.env.NODE_EXTRA_CA_CERTS] : [];
  return certificatesIn([...(await filesUnder('/usr/local/share/ca-certificates')), ...extra]);
}

/**
 * The machine's own CA certificates among those: the ones no public bundle has (Debian's, which the
 * sidecar installs, or Node's, built into its binary). None of them may be in an image.
 */
export async function machineCertificates(): Promise<string[]> {
  const published = new Set(await certificatesIn(await filesUnder('/usr/share/ca-certificates')));
  return (await buildCertificates()).filter((pem) => !published.has(pem));
}

/** The CA bundle the builds get as their `ca-certificates` secret, in a private temporary file. */
async function caSecretFile(): Promise<string> {
  const dir = await tempDir('gco-build-secret-');
  const path = join(dir, 'ca-certificates.pem');
  const pems = [...(await buildCertificates()), await secretCanary()];
  await writeFile(path, `${pems.map((p) => p.trim()).join('\n')}\n`, { mode: 0o600 });
  return path;
}

async function imageKey(dockerfile: string, baseKey: string): Promise<string> {
  const text = await readFile(join(repoRoot, dockerfile), 'utf8');
  const context = await hashTree(repoRoot, copySources(text));
  return sha256([recipe, dockerfile, text, context, baseKey].join('\0')).slice(0, 16);
}

interface Meta {
  name: string;
  tag: string;
  ref: string;
  id: string;
  bytes: number;
  buildSeconds: number;
}

const archivePath = (name: string, key: string) => join(imagesDir, `${name}-${key}.tar`);
const metaPath = (name: string, key: string) => join(imagesDir, `${name}-${key}.json`);

/** Builds one image and saves its archive, unless another run did meanwhile; answers whether it built. */
async function buildOne(
  docker: Docker,
  spec: (typeof images)[ImageKey],
  key: string,
  base: string,
  secret: string,
  log: Log,
): Promise<boolean> {
  const ref = `${spec.name}:${key}`;
  const tag = `${spec.name}:${devTag}`;
  const built = await cachedEntry(archivePath(spec.name, key), async (temp) => {
    const dockerfile = join(repoRoot, spec.dockerfile);
    const froms = baseImages(await readFile(dockerfile, 'utf8'));
    log(`building ${tag} (${spec.dockerfile})`);
    const started = Date.now();
    // The Dockerfiles name their base (node:24-slim), which only this engine's tag makes ours: held
    // for the build, so that a run with another base cannot move it under us.
    await withLock(join(imagesDir, 'from-tags.lock'), async () => {
      for (const from of froms) await docker.ok(['tag', base, from]);
      const secretArgs = ['--secret', `id=ca-certificates,src=${secret}`];
      await build(docker, [...secretArgs, '--label', `gco.inputs=${key}`, '-f', dockerfile, '-t', ref, repoRoot], ref);
    });
    const buildSeconds = seconds(started);
    // `:dev` moves with every build: tagged and saved under a lock, so that the archive holds our image.
    await withLock(join(imagesDir, `tag-${spec.name}.lock`), async () => {
      await docker.ok(['tag', ref, tag]);
      await docker.ok(['save', '-o', temp, tag, ref], { timeoutMs: 600_000 });
    });
    // Readable by whoever imports it (docker save makes it private); the tests prove it holds no secret.
    await chmod(temp, 0o644);
    const [id, bytes] = (await docker.ok(['image', 'inspect', '--format', '{{.Id}} {{.Size}}', ref])).trim().split(' ');
    const meta: Meta = { name: spec.name, tag, ref, id: id as string, bytes: Number(bytes), buildSeconds };
    const metaTemp = uniqueTemp(metaPath(spec.name, key));
    await writeFile(metaTemp, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(metaTemp, metaPath(spec.name, key));
    log(`${tag} built in ${buildSeconds} s: ${(meta.bytes / 1e6).toFixed(0)} MB`);
  });
  if (built) await prune(docker, spec.name, key);
  return built;
}

/** Keeps the newest few archives of an image (other worktrees may be using older ones). */
async function prune(docker: Docker, name: string, keep: string): Promise<void> {
  const pattern = new RegExp(`^${name}-([0-9a-f]{16})\\.tar$`);
  const entries = await Promise.all(
    (await readdir(imagesDir))
      .map((file) => pattern.exec(file)?.[1])
      .filter((key): key is string => key !== undefined && key !== keep)
      // Another run may be pruning too.
      .map(async (key) => ({ key, mtime: (await stat(archivePath(name, key)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  for (const { key } of entries.sort((a, b) => b.mtime - a.mtime).slice(2)) {
    await rm(archivePath(name, key), { force: true });
    await rm(metaPath(name, key), { force: true });
    await rm(buildLog(`${name}:${key}`), { force: true });
    await docker.run(['rmi', `${name}:${key}`]);
  }
}

async function cached(spec: (typeof images)[ImageKey], key: string): Promise<BuiltImage | undefined> {
  const archive = archivePath(spec.name, key);
  if (!existsSync(archive)) return undefined;
  const meta = JSON.parse(await readFile(metaPath(spec.name, key), 'utf8').catch(() => 'null')) as Meta | null;
  return meta ? { ...meta, archive, built: false } : undefined;
}

/**
 * The three images, built if their inputs changed (the Dockerfile, every file it copies, the base),
 * with their archives. Starts the engine only when something must be built.
 */
export async function buildImages(opts: { log?: Log } = {}): Promise<BuiltImages> {
  const log = opts.log ?? defaultLog;
  const base = await baseSpec();
  const result: Partial<BuiltImages> = {};
  const missing: Array<[ImageKey, string]> = [];
  for (const k of Object.keys(images) as ImageKey[]) {
    const key = await imageKey(images[k].dockerfile, base.key);
    const hit = await cached(images[k], key);
    if (hit) result[k] = hit;
    else missing.push([k, key]);
  }
  if (missing.length > 0) {
    const docker = await useDocker();
    try {
      const baseRef = await nodeBase(docker, base, log);
      const secret = await caSecretFile();
      try {
        for (const [k, key] of missing) {
          const built = await buildOne(docker, images[k], key, baseRef, secret, log);
          const hit = await cached(images[k], key);
          if (!hit) throw new Error(`${images[k].name}: no archive after its build`);
          result[k] = { ...hit, built };
        }
      } finally {
        await rm(secret, { force: true });
      }
    } finally {
      await docker.release();
    }
  }
  return result as BuiltImages;
}

/**
 * Runs `builds`, a builder of the Dockerfiles other than buildImages (Tilt), against `docker` with what
 * those builds need from this machine, as buildImages gives its own: every FROM the Dockerfiles name
 * tagged as our base, kept so for as long as `builds` runs (other runs' image builds wait), and the CA
 * bundle for their `ca-certificates` secret, a private file removed afterwards.
 */
export async function withDockerfileInputs<T>(
  docker: Docker,
  builds: (caSecret: string) => Promise<T>,
  opts: { log?: Log } = {},
): Promise<T> {
  const baseRef = await nodeBase(docker, await baseSpec(), opts.log ?? defaultLog);
  const froms = new Set<string>();
  for (const spec of Object.values(images)) {
    for (const from of baseImages(await readFile(join(repoRoot, spec.dockerfile), 'utf8'))) froms.add(from);
  }
  const secret = await caSecretFile();
  try {
    return await withLock(join(imagesDir, 'from-tags.lock'), async () => {
      for (const from of froms) await docker.ok(['tag', baseRef, from]);
      return builds(secret);
    });
  } finally {
    await rm(secret, { force: true });
  }
}

/** Makes sure the engine has `image` (loading its archive if it lost it), for `docker run`. */
export async function loadImage(docker: Docker, image: BuiltImage): Promise<void> {
  if (await imageExists(docker, image.ref)) return;
  await docker.ok(['load', '-i', image.archive], { timeoutMs: 600_000 });
}
