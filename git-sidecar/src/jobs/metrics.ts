/**
 * The sidecar's metrics. Labels come from fixed sets (phases, reasons, results) except `repository`,
 * the normalized URL of a repository with queued jobs: URLs never carry credentials here (they are
 * refused), and the series exist only while jobs wait, so their number is the repositories in use.
 */

import { secondsBuckets } from '@gco/common/telemetry';
import type { CommitResponse } from '@gco/sidecar-api';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Reason } from '../errors.ts';
import type { Job } from './job.ts';

/** What the state gauges read at each scrape (the scheduler's queues, the clone store). */
export interface ObservedState {
  /** Jobs waiting, by repository (normalized URL), for the repositories that have any. */
  queueDepths(): ReadonlyMap<string, number>;
  cloneBytes(): number;
  clones(): number;
}

/**
 * The gauges of the sidecar's state, read when scraped: registered once the scheduler and the clone
 * store exist, so neither has to exist before the metrics the executor records.
 */
export function observeState(registry: Registry, state: ObservedState): void {
  const registers = [registry];
  new Gauge({
    name: 'gco_queue_depth',
    help: 'Jobs waiting, by repository.',
    labelNames: ['repository'],
    registers,
    collect() {
      this.reset();
      for (const [repository, depth] of state.queueDepths()) this.set({ repository }, depth);
    },
  });
  new Gauge({
    name: 'gco_clone_cache_bytes',
    help: 'Bytes on disk of the persistent clones.',
    registers,
    collect() {
      this.set(state.cloneBytes());
    },
  });
  new Gauge({
    name: 'gco_clones',
    help: 'Persistent clones on disk.',
    registers,
    collect() {
      this.set(state.clones());
    },
  });
}

/**
 * The entries each long-lived in-memory structure holds, read when scraped: the bounded caches (at most
 * their bound, README "Memory") and the per-job ones (0 once no call is in flight). What the sidecar's
 * memory grows with is visible here, not only as bytes.
 */
export function observeHeld(registry: Registry, held: () => Record<string, number>): void {
  new Gauge({
    name: 'gco_sidecar_held_entries',
    help: 'Entries held in memory by each long-lived structure of the sidecar (caches, queues, jobs in flight).',
    labelNames: ['structure'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [structure, entries] of Object.entries(held())) this.set({ structure }, entries);
    },
  });
}

/** What happens in the sidecar: jobs, batches, git phases, push retries, lazy fetches. */
export class SidecarMetrics {
  private readonly jobs: Counter<'result'>;
  private readonly phases: Histogram<'phase'>;
  private readonly pushRetries: Counter<'reason'>;
  private readonly batchJobs: Histogram;
  private readonly queueWait: Histogram;
  private readonly lazyFetches: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.jobs = new Counter({
      name: 'gco_sidecar_jobs_total',
      help: 'Commit jobs by result: committed, unchanged, already_applied, or the failure reason.',
      labelNames: ['result'],
      registers,
    });
    this.phases = new Histogram({
      name: 'gco_git_phase_duration_seconds',
      help: 'Time of each git phase of a batch: clone (opening or cloning), fetch, build (the commits), push.',
      labelNames: ['phase'],
      buckets: secondsBuckets,
      registers,
    });
    this.pushRetries = new Counter({
      name: 'gco_push_retries_total',
      help: 'Pushes rejected, by reason (branch-moved, ref-lock): retried, or the last one before giving up.',
      labelNames: ['reason'],
      registers,
    });
    this.batchJobs = new Histogram({
      name: 'gco_batch_jobs',
      help: 'Jobs per batch (jobs for one repository and branch sharing a fetch and a push).',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'gco_sidecar_queue_wait_seconds',
      help: 'Time a job waits in its repository queue before a batch takes it.',
      buckets: secondsBuckets,
      registers,
    });
    this.lazyFetches = new Counter({
      name: 'gco_lazy_blob_fetches_total',
      help: 'Fetches git made on its own for blobs missing from a blobless clone (old contents of appended files).',
      registers,
    });
    for (const phase of ['clone', 'fetch', 'build', 'push']) this.phases.zero({ phase });
    this.lazyFetches.inc(0);
  }

  batchStarted(batch: Job[]): void {
    this.batchJobs.observe(batch.length);
    const now = Date.now();
    for (const job of batch) this.queueWait.observe(Math.max(0, now - job.enqueuedAt) / 1000);
  }

  phase(phase: 'clone' | 'fetch' | 'build' | 'push', ms: number): void {
    this.phases.observe({ phase }, ms / 1000);
  }

  pushRetried(reason: string): void {
    this.pushRetries.inc({ reason });
  }

  lazyFetched(count: number): void {
    if (count > 0) this.lazyFetches.inc(count);
  }

  jobDone(response: CommitResponse): void {
    this.jobs.inc({
      result: response.alreadyApplied ? 'already_applied' : response.changed ? 'committed' : 'unchanged',
    });
  }

  jobFailed(reason: Reason): void {
    this.jobs.inc({ result: Reason[reason]?.toLowerCase() ?? 'unknown' });
  }
}
