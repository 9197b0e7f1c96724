/**
 * A container as its cgroups (v1) on the test node see it: the kubelet (cgroupfs driver) puts each
 * container at `<cgroupRoot>/kubepods/[<qos>/]pod<uid>/<container id>` in every hierarchy. Its memory
 * (no metrics-server here, so `kubectl top` has nothing; these are the numbers it would read), and its
 * processes, to signal them as the kernel would (an OOM kill, a hung process) rather than as the kubelet.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ContainerMemory {
  /** Anonymous memory now (memory.stat total_rss): what the process itself holds. */
  rssBytes: number;
  /** The peak of memory.usage_in_bytes since the container started, page cache included. */
  maxUsageBytes: number;
  /** memory.limit_in_bytes: the manifest's limit as the kernel applies it. */
  limitBytes: number;
}

/** `containerId` as the pod status has it: `containerd://<id>`. */
export async function podMemory(cgroup: string, containerId: string): Promise<ContainerMemory> {
  const dir = await containerCgroup(cgroup, containerId, 'memory');
  const read = async (file: string) => (await readFile(join(dir, file), 'utf8')).trim();
  const stat = Object.fromEntries(
    (await read('memory.stat')).split('\n').map((l) => {
      const [k, v] = l.split(' ');
      return [k, Number(v)];
    }),
  );
  return {
    rssBytes: stat.total_rss ?? 0,
    maxUsageBytes: Number(await read('memory.max_usage_in_bytes')),
    limitBytes: Number(await read('memory.limit_in_bytes')),
  };
}

/** A container's directory in one cgroup hierarchy (`memory`, `pids`…); `containerId` as in podMemory. */
export async function containerCgroup(cgroup: string, containerId: string, hierarchy: string): Promise<string> {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const dir = await find(join('/sys/fs/cgroup', hierarchy, cgroup, 'kubepods'), id, 3);
  if (!dir) throw new Error(`no ${hierarchy} cgroup for container ${id} under ${cgroup}/kubepods`);
  return dir;
}

/** Sends a signal to every process of a container, as the kernel sees them from this machine. */
export async function signalContainer(cgroup: string, containerId: string, signal: NodeJS.Signals): Promise<number[]> {
  const dir = await containerCgroup(cgroup, containerId, 'pids');
  const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  if (pids.length === 0) throw new Error(`container ${containerId} has no processes`);
  for (const pid of pids) process.kill(pid, signal);
  return pids;
}

async function find(dir: string, name: string, depth: number): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory() && e.name === name) return join(dir, name);
  if (depth === 0) return undefined;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const found = await find(join(dir, e.name), name, depth - 1);
    if (found) return found;
  }
  return undefined;
}
