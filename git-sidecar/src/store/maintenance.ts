/**
 * Background upkeep of the clones, between jobs and never during one: pack the loose objects that
 * commits leave, keep the commit-graph fresh (fast history walks for the execution-id search), and
 * evict the least recently used clones past the disk budget.
 */

import { join } from 'node:path';
import type { Logger } from '@gco/common/logger';
import { git } from '../git/command.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { CloneStore } from './clone-store.ts';

export async function maintainClone(store: CloneStore, key: string, timeoutMs: number, logger: Logger): Promise<void> {
  const gitDir = join(store.clonesDir, key);
  const result = await git(
    ['maintenance', 'run', '--task=loose-objects', '--task=incremental-repack', '--task=commit-graph', '--quiet'],
    { gitDir, timeoutMs },
  );
  if (result.code !== 0) {
    logger.warn('maintenance failed', { clone: key, error: result.stderr.trim().split('\n').slice(-2).join('; ') });
    if (result.timedOut) await store.cleanAfterKill({ key, gitDir, partial: true });
  }
  await store.updateSize({ key, gitDir, partial: true });
}

export function startMaintenance(opts: {
  store: CloneStore;
  scheduler: Scheduler;
  intervalMs: number;
  gitTimeoutMs: number;
  logger: Logger;
}): { stop(): void; runOnce(): Promise<void> } {
  let running = false;
  const runOnce = async () => {
    if (running) return;
    running = true;
    try {
      for (const key of opts.store.keys()) {
        await opts.scheduler.exclusive(key, async () => {
          // Evicted since the list was made (after another repository's batch).
          if (opts.store.has(key)) await maintainClone(opts.store, key, opts.gitTimeoutMs, opts.logger);
        });
      }
      await opts.store.evict((key, task) => opts.scheduler.exclusive(key, task));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void runOnce(), opts.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
