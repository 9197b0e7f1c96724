/** A process's memory and start time, from /proc (Linux). */
import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  /** Resident set size now, MB. */
  rss: number;
  /** The kernel's high-water mark of the resident set (VmHWM): the peak, exact, without sampling. */
  peak: number;
  /** Anonymous memory (heaps, buffers) and file-backed pages (the binary, shared libraries), MB. */
  anon: number;
  file: number;
}

export async function processMemory(pid: number | undefined): Promise<ProcessMemory> {
  const status = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '') : '';
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: mb('VmRSS'), peak: mb('VmHWM'), anon: mb('RssAnon'), file: mb('RssFile') };
}

/** When the process started, as a performance.now() instant of this process (10 ms resolution). */
export async function processStartedAt(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself hold spaces: starttime is the 22nd field overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(fields[19]);
  const uptimeSeconds = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  const clockTicksPerSecond = 100; // USER_HZ, fixed at 100 in the kernel's ABI on x86 and arm
  return performance.now() - (uptimeSeconds - startTicks / clockTicksPerSecond) * 1000;
}

/**
 * CPU seconds a process has used (user + system), and those of its children it has waited for: where a
 * CPU-bound burst spends the machine's two cores. The git server's `git http-backend` processes are
 * children of the benchmark itself.
 */
export async function processCpuSeconds(pid: number | undefined): Promise<{ own: number; children: number }> {
  const stat = pid ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') : '';
  if (!stat) return { own: 0, children: 0 };
  // utime, stime, cutime, cstime are fields 14-17 overall: 11-14 after the command name.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const ticks = 100; // USER_HZ
  return {
    own: ((fields[11] ?? 0) + (fields[12] ?? 0)) / ticks,
    children: ((fields[13] ?? 0) + (fields[14] ?? 0)) / ticks,
  };
}
