/**
 * Serializes work per repository and batches it: while a batch runs for a repository, jobs for it
 * queue up; the next batch takes every queued job with the same branch, base and credentials, in
 * arrival order, so a burst of N jobs costs about one fetch and one push, not N. Different repositories
 * run in parallel, up to a limit. A job whose caller gives up (cancels, or its deadline passes) leaves
 * its queue at once, so its content (up to --max-job-size) is not held until the repository's running
 * batch ends: what the scheduler holds is the calls in flight, and nothing once they are answered.
 */
import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { type CommitRequest, CredentialsSchema } from '@gco/sidecar-api';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { Reason, SidecarError } from '../errors.ts';
import type { Job } from './job.ts';

/** Runs a batch to its end, settling every job of it (the batch executor). */
export interface BatchRunner {
  run(batch: Job[]): Promise<void>;
}

export interface SchedulerOptions {
  executor: BatchRunner;
  /** Repositories worked on at once. */
  concurrency: number;
  /** Jobs per batch at most. */
  maxBatch: number;
  /** A batch starts (metrics: jobs per batch, time queued). */
  onBatch?: (batch: Job[]) => void;
  onIdle?: (repositoryKey: string) => Promise<void>;
}

/** Jobs that may share a fetch and a push. A rebuild (pull-request head) is always alone. */
export function batchKey(req: CommitRequest, nonce: string): string {
  const credentials = req.repository?.credentials;
  const fingerprint = createHash('sha256')
    .update(credentials ? toBinary(CredentialsSchema, credentials) : new Uint8Array())
    .digest('hex');
  return JSON.stringify([req.branch, req.baseBranch, fingerprint, req.rebuildFromBase ? nonce : '']);
}

export class Scheduler {
  private readonly opts: SchedulerOptions;
  private readonly queues = new Map<string, Job[]>();
  private readonly active = new Set<string>();
  private readonly waiting: string[] = [];
  /** The abort listener of each queued job, removed when the job leaves its queue. */
  private readonly withdrawals = new Map<Job, () => void>();
  private running = 0;
  private closed = false;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
  }

  inFlight(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n + this.running;
  }

  queueDepth(repositoryKey: string): number {
    return this.queues.get(repositoryKey)?.length ?? 0;
  }

  /** Jobs waiting, by repository (normalized URL: no credentials), for the repositories that have any. */
  queueDepths(): Map<string, number> {
    const depths = new Map<string, number>();
    for (const queue of this.queues.values()) {
      const first = queue[0];
      if (first) depths.set(first.remote.normalized, queue.length);
    }
    return depths;
  }

  /** Entries held now, by structure (the sidecar's held-entries gauge): all 0 when no call is in flight. */
  held(): Record<string, number> {
    let queued = 0;
    for (const q of this.queues.values()) queued += q.length;
    return {
      queued_jobs: queued,
      queued_repositories: this.queues.size,
      waiting_repositories: this.waiting.length,
      active_repositories: this.active.size,
      queue_listeners: this.withdrawals.size,
    };
  }

  submit(job: Job): void {
    if (this.closed) {
      job.queueSpan.end();
      job.reject(new SidecarError(Reason.UNAVAILABLE, 'the sidecar is shutting down'));
      return;
    }
    if (job.signal.aborted) {
      this.drop(job);
      return;
    }
    const key = job.remote.key;
    const queue = this.queues.get(key);
    if (queue) queue.push(job);
    else this.queues.set(key, [job]);
    const withdraw = () => this.withdraw(job);
    job.signal.addEventListener('abort', withdraw, { once: true });
    this.withdrawals.set(job, withdraw);
    if (!this.active.has(key) && !this.waiting.includes(key)) this.waiting.push(key);
    this.pump();
  }

  /** Runs `task` on a repository when no batch is running for it (maintenance, eviction). */
  async exclusive<T>(repositoryKey: string, task: () => Promise<T>): Promise<T | undefined> {
    if (this.active.has(repositoryKey) || this.queues.has(repositoryKey)) return undefined;
    this.active.add(repositoryKey);
    try {
      return await task();
    } finally {
      this.active.delete(repositoryKey);
      if (this.queues.has(repositoryKey) && !this.waiting.includes(repositoryKey)) this.waiting.push(repositoryKey);
      this.pump();
    }
  }

  /** Stops taking jobs; resolves when the running batches have finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, queue] of this.queues) {
      if (this.active.has(key)) continue;
      for (const job of queue) {
        this.dequeued(job);
        job.queueSpan.end();
        job.reject(new SidecarError(Reason.UNAVAILABLE, 'the sidecar is shutting down'));
      }
      this.queues.delete(key);
      const at = this.waiting.indexOf(key);
      if (at >= 0) this.waiting.splice(at, 1);
    }
    while (this.running > 0 || this.active.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.waiting.length > 0) {
      const key = this.waiting.shift() as string;
      if (this.active.has(key)) continue;
      const batch = this.takeBatch(key);
      if (batch.length === 0) continue;
      this.active.add(key);
      this.running++;
      this.opts.onBatch?.(batch);
      // Not in the context of whichever call happened to pump the queue: the batch picks its own trace,
      // and what follows it (eviction) belongs to none.
      void context
        .with(ROOT_CONTEXT, () => this.opts.executor.run(batch))
        .catch((error: unknown) => {
          for (const job of batch) job.reject(error);
        })
        .finally(() => {
          this.running--;
          this.active.delete(key);
          if (this.queues.has(key)) this.waiting.push(key);
          else void this.opts.onIdle?.(key).catch(() => {});
          this.pump();
        });
    }
  }

  /** The first queued job and every later one with its batch key, in order; expired jobs are dropped. */
  private takeBatch(key: string): Job[] {
    const queue = this.queues.get(key) ?? [];
    const now = Date.now();
    const live: Job[] = [];
    for (const job of queue) {
      if (job.deadline <= now || job.signal.aborted) {
        this.dequeued(job);
        this.drop(job);
      } else {
        live.push(job);
      }
    }
    const first = live[0];
    if (!first) {
      this.queues.delete(key);
      return [];
    }
    const batch: Job[] = [];
    const rest: Job[] = [];
    for (const job of live) {
      if (job.batchKey === first.batchKey && batch.length < this.opts.maxBatch) {
        this.dequeued(job);
        batch.push(job);
      } else {
        rest.push(job);
      }
    }
    if (rest.length > 0) this.queues.set(key, rest);
    else this.queues.delete(key);
    return batch;
  }

  /** Takes a job whose caller gave up out of its queue, and fails it. */
  private withdraw(job: Job): void {
    const key = job.remote.key;
    const queue = this.queues.get(key);
    const at = queue?.indexOf(job) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    this.dequeued(job);
    if (queue.length === 0) {
      this.queues.delete(key);
      const waitingAt = this.waiting.indexOf(key);
      if (waitingAt >= 0) this.waiting.splice(waitingAt, 1);
    }
    this.drop(job);
  }

  private drop(job: Job): void {
    job.queueSpan.end();
    job.reject(
      new SidecarError(Reason.TIMEOUT, 'the job deadline passed, or its caller gave up, while it waited in the queue'),
    );
  }

  private dequeued(job: Job): void {
    const withdraw = this.withdrawals.get(job);
    if (!withdraw) return;
    job.signal.removeEventListener('abort', withdraw);
    this.withdrawals.delete(job);
  }
}
