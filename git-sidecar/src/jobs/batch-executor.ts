/**
 * Runs a batch of jobs for one repository and branch: one fetch, one commit per job in order, one push
 * (`push-loop.ts`, which retries on a moved branch; the commits are `batch-commits.ts`). This module
 * holds what a batch needs around that: its trace span, its deadline, the job's credentials, the clone,
 * the phase timings, and the answers (`responses.ts`) once the clone and credentials are let go.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '@gco/common/logger';
import { inSpan, recordFailure, tracer } from '@gco/common/telemetry';
import type { CommitRequest } from '@gco/sidecar-api';
import { type Attributes, type Span, trace } from '@opentelemetry/api';
import { type CommitSigner, unsigned } from '../commit/signer.ts';
import { materializeCredentials } from '../credentials/credentials.ts';
import type { SidecarError } from '../errors.ts';
import { GitCommandError } from '../git/command.ts';
import { ObjectStore } from '../git/objects.ts';
import { type GitContext, remoteDefaultBranch } from '../git/remote.ts';
import type { Clone, CloneStore } from '../store/clone-store.ts';
import { DefaultBranchCache } from './default-branch-cache.ts';
import type { Job } from './job.ts';
import type { SidecarMetrics } from './metrics.ts';
import { PushLoop } from './push-loop.ts';
import { batchFailure, respond, type Timings } from './responses.ts';

export interface ExecutorOptions {
  store: CloneStore;
  logger: Logger;
  /** Upper bound of any single git command. */
  gitTimeoutMs: number;
  /** Push attempts before a batch gives up with CONFLICT_UNRESOLVABLE. */
  maxPushAttempts: number;
  /** Commits of branch history searched for execution ids. */
  executionSearchDepth: number;
  backoff: { initialMs: number; maxMs: number };
  defaultBranchCacheMs: number;
  metrics?: SidecarMetrics;
  /**
   * The signer of a batch's commits, from its first job's request (the jobs of a batch share their
   * request's batch key). Unsigned unless given: no request names a signing key yet (`commit/signer.ts`).
   */
  signerFor?: (request: CommitRequest) => CommitSigner;
}

export class BatchExecutor {
  private readonly opts: ExecutorOptions;
  private readonly defaultBranches: DefaultBranchCache;
  private readonly pushLoop: PushLoop;

  constructor(opts: ExecutorOptions) {
    this.opts = opts;
    this.defaultBranches = new DefaultBranchCache(opts.defaultBranchCacheMs);
    this.pushLoop = new PushLoop(opts);
    // What is kept of a repository in memory goes with its clone: it holds no more than the volume does.
    opts.store.onRemoved((key) => {
      this.defaultBranches.forget(key);
      this.pushLoop.forget(key);
    });
  }

  /** Entries held now, by structure (the sidecar's held-entries gauge). */
  held(): Record<string, number> {
    return { default_branches: this.defaultBranches.size, ...this.pushLoop.held() };
  }

  /**
   * Runs the batch in a span of the trace of the job that opened it (the common batch of one is then
   * wholly in its job's trace); the batch links the other jobs' traces, and their queue spans name it.
   */
  async run(jobs: Job[]): Promise<void> {
    const first = jobs[0];
    if (!first) return;
    const links = jobs
      .slice(1)
      .map((job) => trace.getSpanContext(job.traceContext))
      .filter((c) => c !== undefined)
      .map((c) => ({ context: c }));
    const attributes = {
      'gco.repository': first.remote.normalized,
      'gco.batch.size': jobs.length,
    };
    await tracer().startActiveSpan('git batch', { attributes, links }, first.traceContext, async (span) => {
      // The queue spans end here, where the batch that takes them is known.
      const batchTrace = span.spanContext().traceId;
      for (const job of jobs) {
        job.queueSpan.setAttribute('gco.batch.size', jobs.length);
        if (job !== first) job.queueSpan.setAttribute('gco.batch.trace_id', batchTrace);
        job.queueSpan.end();
      }
      try {
        await this.runBatch(jobs, first, span);
      } finally {
        span.end();
      }
    });
  }

  private async runBatch(jobs: Job[], first: Job, span: Span): Promise<void> {
    const started = Date.now();
    const timings: Timings = { clone: 0, fetch: 0, build: 0, push: 0 };
    const deadline = Math.max(...jobs.map((j) => j.deadline));
    const abort = new AbortController();
    const deadlineTimer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    let credentials: Awaited<ReturnType<typeof materializeCredentials>> | undefined;
    let clone: Clone | undefined;
    let created = false;
    let objects: ObjectStore | undefined;
    let failed: SidecarError | undefined;
    try {
      credentials = await materializeCredentials(
        first.remote,
        first.request.repository?.credentials,
        this.opts.store.tmpDir,
      );
      const env = credentials.env;
      ({ clone, created } = await this.phase(timings, 'clone', {}, () => this.opts.store.open(first.remote)));
      const ctx = (): GitContext => ({
        gitDir: (clone as Clone).gitDir,
        env,
        timeoutMs: Math.max(1000, Math.min(this.opts.gitTimeoutMs, deadline - Date.now())),
        signal: abort.signal,
      });
      objects = new ObjectStore({
        ...ctx(),
        lazyFetchLog: clone.partial
          ? join(this.opts.store.tmpDir, `trace2-${randomBytes(6).toString('hex')}.json`)
          : undefined,
      });
      const defaultBranch = () =>
        this.defaultBranches.get(
          first.remote.key,
          async () => (await remoteDefaultBranch(ctx(), first.remote.url)).branch,
        );
      const branch = first.request.branch || (await defaultBranch());
      span.setAttribute('gco.branch', branch);
      const outcome = await this.pushLoop.run({
        jobs,
        clone,
        objects,
        ctx,
        branch,
        defaultBranch,
        signer: this.opts.signerFor?.(first.request) ?? unsigned,
        phase: (name, attributes, fn) => this.phase(timings, name, attributes, fn),
        signal: abort.signal,
      });
      respond(outcome.results, {
        branch,
        pushed: outcome.pushed,
        createdBranch: outcome.createdBranch,
        attempts: outcome.attempts,
        baseSha: outcome.baseSha,
        batchSize: jobs.length,
        started,
        timings,
      });
    } catch (error) {
      const failure = await batchFailure(error, {
        remote: first.remote,
        credentials: first.request.repository?.credentials,
        deadlinePassed: abort.signal.aborted,
      });
      recordFailure(span, failure);
      // A killed git (its own time limit, or the job's deadline) may have left locks behind.
      const killed = (e: unknown) => e instanceof GitCommandError && e.result.timedOut;
      if (clone && (killed(error) || killed((error as Error | undefined)?.cause) || abort.signal.aborted))
        await this.opts.store.cleanAfterKill(clone);
      failed = failure;
    } finally {
      clearTimeout(deadlineTimer);
      const lazyFetches = (await objects?.close()) ?? 0;
      this.opts.metrics?.lazyFetched(lazyFetches);
      await credentials?.dispose();
      if (clone && created && failed) await this.opts.store.removeIfEmpty(clone).catch(() => false);
      if (clone) await this.opts.store.updateSize(clone);
    }
    // A failure is answered once the job's credential files and trace file are gone, so a caller that
    // gives up on the error leaves nothing behind. (A success is answered at once: latency matters.)
    if (failed) for (const job of jobs) job.reject(failed);
  }

  /** Runs one git phase of a batch: its time goes to the batch's timings and, when tracing, to a span. */
  private async phase<T>(
    timings: Timings,
    name: keyof Timings,
    attributes: Attributes,
    fn: (span: Span) => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    try {
      return await inSpan(`git ${name}`, attributes, fn);
    } finally {
      const ms = performance.now() - started;
      timings[name] += Math.round(ms);
      this.opts.metrics?.phase(name, ms);
    }
  }
}
