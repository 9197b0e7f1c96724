/**
 * What several processes hold in memory together: each one's anonymous pages (heaps, buffers: private
 * to it) plus the file-backed pages they map, each physical page counted once. The operator and the
 * sidecar map the same Node binary, and do so in a pod too, since both images share the base layer that
 * holds it; their RSS figures each count all of its resident pages. Physical page numbers come from
 * /proc/<pid>/pagemap, which shows them to root only.
 */
import { open, readFile } from 'node:fs/promises';
import { processMemory } from './process-memory.ts';

const pageSize = 4096;
const mb = (pages: number) => (pages * pageSize) / 2 ** 20;

export interface ResidentTogether {
  /** Anonymous plus file-backed, shared pages once, MB. */
  mb: number;
  anonMb: number;
  fileMb: number;
}

export async function residentTogether(pids: number[]): Promise<ResidentTogether> {
  const filePages = new Set<number>();
  let anonPages = 0;
  for (const pid of pids) {
    anonPages += ((await processMemory(pid)).anon * 2 ** 20) / pageSize;
    const maps = (await readFile(`/proc/${pid}/maps`, 'utf8')).trim().split('\n');
    const pagemap = await open(`/proc/${pid}/pagemap`, 'r');
    try {
      for (const line of maps) {
        // start-end perms offset dev inode path: file-backed mappings have an inode and a path.
        const [range, , , , inode, path] = line.split(/\s+/);
        if (!inode || inode === '0' || !path?.startsWith('/')) continue;
        const [start, end] = (range as string).split('-').map((h) => Number.parseInt(h, 16)) as [number, number];
        const pages = (end - start) / pageSize;
        const entries = Buffer.alloc(pages * 8);
        await pagemap.read(entries, 0, entries.length, (start / pageSize) * 8);
        for (let i = 0; i < pages; i++) {
          const entry = entries.readBigUInt64LE(i * 8);
          if (!(entry >> 63n)) continue; // not resident
          const pfn = Number(entry & ((1n << 55n) - 1n));
          if (pfn === 0) throw new Error('/proc/<pid>/pagemap hides page frame numbers: run the benchmark as root');
          filePages.add(pfn);
        }
      }
    } finally {
      await pagemap.close();
    }
  }
  return { mb: mb(anonPages + filePages.size), anonMb: mb(anonPages), fileMb: mb(filePages.size) };
}
