/**
 * Runs one container of a workload manifest with Docker the way a kubelet would run it: the pod's user
 * and group, a read-only root filesystem, no capabilities, no privilege escalation, its args and env,
 * its volumes as directories owned by the pod's fsGroup, its grace period on stop. On the host's
 * network (the private engine has no bridge), so each `--<name>-address=:<port>` / `--listen=:<port>`
 * flag gets a free loopback port instead.
 */
import { randomBytes } from 'node:crypto';
import { chown, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Docker } from './docker.ts';
import { freePort } from './net.ts';
import { repoRoot } from './paths.ts';
import type { RunResult } from './processes.ts';
import { tempDir } from './temp.ts';

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}
interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  securityContext?: SecurityContext;
}
interface Workload {
  metadata: { namespace?: string };
  spec: {
    template: {
      spec: { containers: Container[]; securityContext?: SecurityContext; terminationGracePeriodSeconds?: number };
    };
  };
}

export interface ManifestContainer {
  /** The Docker container's name. */
  name: string;
  /** The loopback port given to each address flag, by flag (`--metrics-address`). */
  ports: Record<string, number>;
  /** The host directory of each volume, by volume name. */
  volumes: Record<string, string>;
  logs(): Promise<string>;
  exec(args: string[]): Promise<RunResult>;
  /** `docker stop` with the pod's grace period (SIGTERM, SIGKILL at its end); answers the exit code. */
  stop(): Promise<number>;
  remove(): Promise<void>;
}

/** A workload manifest of the repository, and one of its containers by name. */
async function manifestContainer(
  manifest: string,
  name: string,
): Promise<{ workload: Workload; container: Container }> {
  const workload = parse(await readFile(join(repoRoot, manifest), 'utf8')) as Workload;
  const container = workload.spec.template.spec.containers.find((c) => c.name === name);
  if (!container) throw new Error(`${manifest} has no container ${name}`);
  return { workload, container };
}

/** The environment variables of the manifests' containers that tune Node and its allocator. */
const runtimeVariables = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'];

/**
 * The runtime settings (NODE_OPTIONS, MALLOC_ARENA_MAX) a container of manifests/manager/statefulset.yaml
 * runs with: benchmarks run the processes as users run them.
 */
export async function manifestRuntimeEnv(name: 'manager' | 'git-sidecar'): Promise<Record<string, string>> {
  const { container } = await manifestContainer('manifests/manager/statefulset.yaml', name);
  return Object.fromEntries(
    (container.env ?? []).flatMap((e) => (runtimeVariables.includes(e.name) && e.value ? [[e.name, e.value]] : [])),
  );
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await chownTree(join(path, entry.name), uid, gid);
    else await chown(join(path, entry.name), uid, gid);
  }
}

export async function runManifestContainer(
  docker: Docker,
  opts: {
    /** The workload's file, relative to the repository (manifests/manager/statefulset.yaml). */
    manifest: string;
    /** The container's name in the pod. */
    container: string;
    /** The image to run in place of the manifest's. */
    image: string;
    /** Host directories for volumes, by name (shared with another container, or holding a Secret's files); others get a new empty directory. */
    volumes?: Record<string, string>;
    /** More mounts: host path to container path, read-only. */
    mounts?: Record<string, string>;
    /** Appended to the manifest's args. */
    args?: string[];
  },
): Promise<ManifestContainer> {
  const { workload, container } = await manifestContainer(opts.manifest, opts.container);
  const pod = workload.spec.template.spec;
  const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser ?? 0;
  const gid = container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? 0;
  const fsGroup = pod.securityContext?.fsGroup;
  const security = container.securityContext ?? {};

  const flags = ['--network=host', `--user=${uid}:${gid}`];
  if (fsGroup !== undefined) flags.push(`--group-add=${fsGroup}`);
  if (security.readOnlyRootFilesystem) flags.push('--read-only');
  if (security.allowPrivilegeEscalation === false) flags.push('--security-opt=no-new-privileges');
  for (const cap of security.capabilities?.drop ?? []) flags.push(`--cap-drop=${cap}`);
  for (const cap of security.capabilities?.add ?? []) flags.push(`--cap-add=${cap}`);

  for (const env of container.env ?? []) {
    const field = env.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.namespace') flags.push(`--env=${env.name}=${workload.metadata.namespace ?? 'default'}`);
    else if (env.value !== undefined) flags.push(`--env=${env.name}=${env.value}`);
    else throw new Error(`${opts.manifest}: env ${env.name} is neither a value nor the namespace`);
  }

  const volumes: Record<string, string> = {};
  for (const mount of container.volumeMounts ?? []) {
    const dir = opts.volumes?.[mount.name] ?? (await tempDir(`gco-volume-${mount.name}-`));
    // As a kubelet does for fsGroup: the volume belongs to the pod's group (and here its user).
    await chownTree(dir, uid, fsGroup ?? gid);
    volumes[mount.name] = dir;
    flags.push(`--volume=${dir}:${mount.mountPath}${mount.readOnly ? ':ro' : ''}`);
  }
  for (const [host, path] of Object.entries(opts.mounts ?? {})) flags.push(`--volume=${host}:${path}:ro`);

  const ports: Record<string, number> = {};
  const args: string[] = [];
  for (const arg of container.args ?? []) {
    const address = /^(--[\w-]+)=:(\d+)$/.exec(arg);
    if (address) {
      const port = await freePort();
      ports[address[1] as string] = port;
      args.push(`${address[1]}=127.0.0.1:${port}`);
    } else {
      args.push(arg);
    }
  }
  args.push(...(opts.args ?? []));

  const name = `gco-test-${opts.container}-${randomBytes(4).toString('hex')}`;
  await docker.ok(['run', '--detach', `--name=${name}`, ...flags, opts.image, ...args]);
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  return {
    name,
    ports,
    volumes,
    async logs() {
      const result = await docker.run(['logs', name]);
      return result.stdout + result.stderr;
    },
    exec: (command) => docker.run(['exec', name, ...command]),
    async stop() {
      await docker.ok(['stop', `--time=${grace}`, name], { timeoutMs: (grace + 30) * 1000 });
      return Number((await docker.ok(['inspect', '--format={{.State.ExitCode}}', name])).trim());
    },
    async remove() {
      await docker.run(['rm', '--force', name]);
    },
  };
}
