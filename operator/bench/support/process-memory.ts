/** A process's start time and CPU seconds, from /proc (Linux); its memory: @gco/testenv processMemory. */
import { readFile } from 'node:fs/promises';

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
