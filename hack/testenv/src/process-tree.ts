/**
 * A process with all its descendants, sampled: the git sidecar with the git processes it runs, as its
 * container's memory limit must hold them.
 */
import { readdir, readFile } from 'node:fs/promises';

/** A process and all its descendants, from /proc/<pid>/task/<tid>/children. */
export async function processTree(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children: number[] = [];
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    children.push(...text.split(' ').filter(Boolean).map(Number));
  }
  const below = await Promise.all(children.map(processTree));
  return [pid, ...below.flat()];
}

/** Anonymous memory of a process, MB (0 once it is gone). */
async function anonMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * The peak of a process tree's anonymous memory (what a container's limit must hold besides page cache),
 * sampled every `everyMs`: short spikes between samples are missed.
 */
export class TreePeakSampler {
  peakAnonMb = 0;
  peakProcesses = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, everyMs = 250) {
    this.timer = setInterval(async () => {
      const tree = await processTree(pid);
      const anon = await Promise.all(tree.map(anonMb));
      this.peakAnonMb = Math.max(
        this.peakAnonMb,
        anon.reduce((a, b) => a + b, 0),
      );
      this.peakProcesses = Math.max(this.peakProcesses, tree.length);
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
