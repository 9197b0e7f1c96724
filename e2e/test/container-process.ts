/**
 * A container's main process on the test node, frozen and thawed from the host: the node's containers
 * are ordinary processes of this machine, and containerd's task of a container (its ID as the pod status
 * has it) names that process. SIGSTOP freezes it as a hung process would be: the kernel still accepts
 * connections on its listening sockets, so a probe connects, sends its request and times out; and a
 * SIGTERM stays pending, so that only SIGKILL ends it. (Sent from the host, outside the container's PID
 * namespace, SIGSTOP reaches its PID 1 although that process installed no handler for it.)
 */
import { readFile } from 'node:fs/promises';
import { Cluster, nodeBinaries, runOk, waitFor } from '@gco/testenv';

/** The host PID of a container's main process; `containerId` as the pod status has it: `containerd://<id>`. */
export async function containerPid(cluster: Cluster, containerId: string): Promise<number> {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const { ctr } = await nodeBinaries();
  const tasks = await runOk(ctr, [
    '--address',
    cluster.containerdAddress,
    '--namespace',
    Cluster.containerdNamespace,
    'tasks',
    'ls',
  ]);
  // TASK  PID  STATUS
  for (const line of tasks.split('\n')) {
    const [task, pid, status] = line.trim().split(/\s+/);
    if (task === id && status === 'RUNNING') return Number(pid);
  }
  throw new Error(`containerd runs no task for container ${id}:\n${tasks}`);
}

/** The command line of a process, its arguments joined by spaces. */
export async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
}

/** The process's state letter (`/proc/<pid>/stat`): R, S, D, T (stopped)...; undefined once it is gone. */
export async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // After the command name in parentheses, which may itself hold spaces and parentheses.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** SIGSTOP, and waits until the kernel reports the process stopped. */
export async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await waitFor(async () => (await processState(pid)) === 'T', {
    timeoutMs: 5_000,
    intervalMs: 20,
    describe: async () => `process ${pid} did not stop: state ${await processState(pid)}`,
  });
}

/** SIGCONT, if the process is still there. */
export function thaw(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
