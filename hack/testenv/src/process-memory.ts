/**
 * A process's memory as the kernel counts it (/proc, Linux), alone or with all its descendants: the git
 * sidecar with the git processes it runs, as its container's memory limit must hold them.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessMemory {
  /** Resident set size now, MB. */
  rss: number;
  /** The kernel's high-water mark of the resident set (VmHWM): the peak, exact, without sampling. */
  peak: number;
  /** Anonymous memory (heaps, buffers) and file-backed pages (the binary, shared libraries), MB. */
  anon: number;
  file: number;
}

/** All zero once the process is gone. */
export async function processMemory(pid: number | undefined): Promise<ProcessMemory> {
  const status = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '') : '';
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: mb('VmRSS'), peak: mb('VmHWM'), anon: mb('RssAnon'), file: mb('RssFile') };
}

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
      const anon = await Promise.all(tree.map(async (p) => (await processMemory(p)).anon));
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
