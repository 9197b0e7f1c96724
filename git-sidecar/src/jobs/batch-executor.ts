/**
 * Runs a batch of jobs for one repository and branch: one fetch, one commit per job in order, one push.
 * When the push is rejected because the branch moved (another cluster, another operator), the batch is
 * fetched again and every job re-applied on the new tip, appends included, after a jittered backoff.
 * Jobs whose execution id is already on the branch report that commit instead (exactly once).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { Logger } from '@gco/common/logger';
import { inSpan, recordFailure, tracer } from '@gco/common/telemetry';
import { type CommitResponse, CommitResponseSchema, FileMode, PhaseTimingsSchema } from '@gco/sidecar-api';
import { type Attributes, type Span, trace } from '@opentelemetry/api';
import { materializeCredentials, redactActiveSecrets } from '../credentials/credentials.ts';
import { Category, Reason, SidecarError } from '../errors.ts';
import { explainFailure } from '../failure-messages.ts';
import { GitCommandError } from '../git/command.ts';
import { emptyTreeOid, ObjectStore } from '../git/objects.ts';
import { commitMessage, fetchBranch, type GitContext, push, remoteDefaultBranch, remoteRef } from '../git/remote.ts';
import { TreeEditor } from '../git/tree-editor.ts';
import type { Clone, CloneStore } from '../store/clone-store.ts';
import { ExecutionIndexes } from './execution-indexes.ts';
import type { Job } from './job.ts';
import type { SidecarMetrics } from './metrics.ts';

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
}

interface Timings {
  clone: number;
  fetch: number;
  build: number;
  push: number;
}

interface JobOutcome {
  job: Job;
  sha: string;
  changed: boolean;
  alreadyApplied: boolean;
  error?: SidecarError;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Branches whose contention flag is kept in memory; older ones are forgotten. */
const maxContendedBranches = 512;

export class BatchExecutor {
  private readonly opts: ExecutorOptions;
  private readonly defaultBranches = new Map<string, { branch: string; until: number }>();
  /** Per clone and branch: what was found in its history by execution id. */
  private readonly indexes: ExecutionIndexes;
  /** Branches whose last push was rejected: fetch before building, until a push goes through. */
  private readonly contended = new Set<string>();

  constructor(opts: ExecutorOptions) {
    this.opts = opts;
    this.indexes = new ExecutionIndexes(opts.executionSearchDepth);
  }

  /** Jittered exponential backoff: about 50-250 ms at first, growing to the cap. */
  backoffMs(attempt: number): number {
    const base = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** (attempt - 1));
    return Math.min(this.opts.backoff.maxMs, base * (1 + Math.random() * 4));
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
    let objects: ObjectStore | undefined;
    let failed: SidecarError | undefined;
    try {
      credentials = await materializeCredentials(
        first.remote,
        first.request.repository?.credentials,
        this.opts.store.tmpDir,
      );
      const env = credentials.env;
      clone = (await this.phase(timings, 'clone', {}, () => this.opts.store.open(first.remote))).clone;
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
      const req = first.request;
      const branch = req.branch || (await this.defaultBranch(first, ctx()));
      span.setAttribute('gco.branch', branch);
      const outcome = await this.attempt(jobs, clone, objects, ctx, branch, timings, abort.signal);
      this.respond(outcome.results, {
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
      const failure = (
        await explainFailure(error, {
          remote: first.remote,
          credentials: first.request.repository?.credentials,
          deadlinePassed: abort.signal.aborted,
        })
      ).redacted(redactActiveSecrets);
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

  private async defaultBranch(job: Job, ctx: GitContext): Promise<string> {
    const cached = this.defaultBranches.get(job.remote.key);
    if (cached && cached.until > Date.now()) return cached.branch;
    const { branch } = await remoteDefaultBranch(ctx, job.remote.url);
    this.defaultBranches.set(job.remote.key, { branch, until: Date.now() + this.opts.defaultBranchCacheMs });
    return branch;
  }

  private async attempt(
    jobs: Job[],
    clone: Clone,
    objects: ObjectStore,
    ctx: () => GitContext,
    branch: string,
    timings: Timings,
    signal: AbortSignal,
  ) {
    const req = (jobs[0] as Job).request;
    const branchKey = `${clone.key}\0${branch}`;
    for (let attempt = 1; ; attempt++) {
      // Optimistic: build on the tip we last saw and push without fetching. Pushes are fast-forward
      // only, so if anyone else moved the branch (and might have landed one of these executions), the
      // push is rejected and the next attempt fetches. Rebuilds always fetch: their base must be fresh.
      const known = await objects.resolveCommit(remoteRef(branch));
      const optimistic = attempt === 1 && !req.rebuildFromBase && known !== undefined && !this.contended.has(branchKey);
      let tip = known;
      let baseSha: string | undefined;
      if (!optimistic) {
        await this.phase(timings, 'fetch', { 'gco.attempt': attempt }, async () => {
          const target = await fetchBranch(ctx(), branch, clone.partial);
          if (target.filterRefused && clone.partial) {
            this.opts.logger.info('the server refuses partial clone: this clone is now a full clone', {
              clone: clone.key,
            });
            await this.opts.store.markFull(clone);
          }
          tip = target.found ? await objects.resolveCommit(remoteRef(branch)) : undefined;
          if (!tip || req.rebuildFromBase)
            baseSha = await this.baseTip(jobs[0] as Job, clone, objects, ctx, branch, tip);
        });
      }

      const parent = req.rebuildFromBase ? baseSha : (tip ?? baseSha);
      const results = await this.phase(timings, 'build', { 'gco.attempt': attempt, 'gco.optimistic': optimistic }, () =>
        this.build(jobs, objects, branchKey, tip, parent),
      );

      // A head this execution names for the first time that exists already, without this execution's
      // commit, is someone else's work (another pull request under the same name): never replaced.
      if (req.rebuildFromBase && req.newBranch && tip && !results.every((r) => r.alreadyApplied)) {
        throw new SidecarError(
          Reason.BRANCH_EXISTS,
          `branch ${branch} already exists with commits of another execution, and this job was to create it`,
        );
      }
      const head = results.filter((r) => r.changed).at(-1)?.sha;
      if (!head) {
        // "Nothing to do" judged on a tip we did not fetch may be stale (the branch may have moved
        // away from this content): only a fetched tip can say so.
        if (optimistic) continue;
        return { results, pushed: false, createdBranch: false, attempts: attempt, baseSha };
      }
      // An optimistic push leases the tip it built on, so a branch reset behind our back (not only one
      // moved ahead) is refused rather than fast-forwarded over.
      const lease = req.rebuildFromBase ? (tip ?? '') : optimistic ? known : undefined;
      const pushed = await this.phase(timings, 'push', { 'gco.attempt': attempt }, async (span) => {
        const result = await push(ctx(), head, branch, lease);
        if (!result.ok) span.setAttribute('gco.push.rejected', result.reason);
        return result;
      });
      if (pushed.ok) {
        if (!optimistic) this.contended.delete(branchKey);
        return { results, pushed: true, createdBranch: !tip, attempts: attempt, baseSha };
      }
      // The branch moved: fetch first on the next attempts and batches, until a push goes through.
      this.contended.add(branchKey);
      if (this.contended.size > maxContendedBranches)
        this.contended.delete(this.contended.values().next().value as string);
      this.opts.metrics?.pushRetried(pushed.reason);
      if (signal.aborted)
        throw new SidecarError(Reason.TIMEOUT, `the deadline passed while retrying the push to ${branch}`);
      if (attempt >= this.opts.maxPushAttempts) {
        throw new SidecarError(
          Reason.CONFLICT_UNRESOLVABLE,
          `branch ${branch} kept moving: the push was rejected ${attempt} times`,
        );
      }
      this.opts.logger.debug('branch moved; fetching and applying again', { branch, attempt, reason: pushed.reason });
      if (!optimistic) await sleep(this.backoffMs(attempt), signal);
      if (signal.aborted) throw new SidecarError(Reason.TIMEOUT, 'the deadline passed while retrying the push');
    }
  }

  /** The tip of the branch a missing (or rebuilt) branch starts from; undefined in an empty repository. */
  private async baseTip(
    job: Job,
    clone: Clone,
    objects: ObjectStore,
    ctx: () => GitContext,
    branch: string,
    tip: string | undefined,
  ): Promise<string | undefined> {
    const baseBranch = job.request.baseBranch || (await this.defaultBranch(job, ctx()));
    if (baseBranch === branch) return tip;
    const base = await fetchBranch(ctx(), baseBranch, clone.partial);
    if (base.found) return objects.resolveCommit(remoteRef(baseBranch));
    if ((await remoteDefaultBranch(ctx(), job.remote.url)).empty) return undefined;
    throw new SidecarError(
      Reason.BRANCH_NOT_FOUND,
      `branch ${branch} does not exist and its base branch ${baseBranch} does not exist either`,
    );
  }

  /** Makes one commit per job, in order, each on the previous one. */
  private async build(
    jobs: Job[],
    objects: ObjectStore,
    branchKey: string,
    tip: string | undefined,
    parent: string | undefined,
  ): Promise<JobOutcome[]> {
    const ids = new Set(jobs.map((j) => j.request.executionId));
    // The oldest branches are forgotten (each pull request has its own head).
    const index = this.indexes.of(branchKey);
    const landed = tip ? await index.find(objects, tip, ids) : new Map<string, string>();
    const results: JobOutcome[] = [];
    const madeHere = new Map<string, string>();
    let current = parent;
    let currentTree = current ? await this.treeOf(objects, current) : undefined;
    const now = Math.floor(Date.now() / 1000);
    for (const job of jobs) {
      const id = job.request.executionId;
      const previous = landed.get(id) ?? madeHere.get(id);
      if (previous) {
        results.push({ job, sha: previous, changed: false, alreadyApplied: true });
        continue;
      }
      try {
        const editor = new TreeEditor(objects, currentTree);
        await applyOperations(editor, job);
        const tree = await editor.write();
        if (tree === (currentTree ?? emptyTreeOid)) {
          results.push({ job, sha: current ?? '', changed: false, alreadyApplied: false });
          continue;
        }
        const req = job.request;
        const sha = await objects.writeCommit({
          tree,
          parents: current ? [current] : [],
          author: { name: req.author?.name ?? '', email: req.author?.email ?? '', time: now },
          message: commitMessage(req.message, { source: req.source, execution: id }),
        });
        madeHere.set(id, sha);
        current = sha;
        currentTree = tree;
        results.push({ job, sha, changed: true, alreadyApplied: false });
      } catch (error) {
        if (error instanceof SidecarError && error.category === Category.PERMANENT) {
          // This job's own input is wrong (a path clash): it fails alone, the batch goes on.
          results.push({ job, sha: '', changed: false, alreadyApplied: false, error });
          continue;
        }
        throw error;
      }
    }
    return results;
  }

  private async treeOf(objects: ObjectStore, commit: string): Promise<string> {
    const object = await objects.read(commit);
    const match = object && /^tree ([0-9a-f]+)$/m.exec(object.content.toString());
    if (!match?.[1]) throw new Error(`commit ${commit} is missing from the clone`);
    return match[1];
  }

  private respond(
    results: JobOutcome[],
    batch: {
      branch: string;
      pushed: boolean;
      createdBranch: boolean;
      attempts: number;
      baseSha: string | undefined;
      batchSize: number;
      started: number;
      timings: Timings;
    },
  ): void {
    const finished = Date.now();
    for (const r of results) {
      if (r.error) {
        r.job.reject(r.error);
        continue;
      }
      const response: CommitResponse = create(CommitResponseSchema, {
        commitSha: r.sha,
        changed: r.changed,
        pushed: batch.pushed && r.changed,
        alreadyApplied: r.alreadyApplied,
        attempts: batch.attempts,
        branch: batch.branch,
        createdBranch: batch.createdBranch && r.changed,
        batchSize: batch.batchSize,
        baseSha: batch.baseSha ?? '',
        timings: create(PhaseTimingsSchema, {
          queueMs: Math.max(0, batch.started - r.job.enqueuedAt),
          cloneMs: batch.timings.clone,
          fetchMs: batch.timings.fetch,
          buildMs: batch.timings.build,
          pushMs: batch.timings.push,
          totalMs: finished - r.job.enqueuedAt,
        }),
      });
      r.job.resolve(response);
    }
  }
}

async function applyOperations(editor: TreeEditor, job: Job): Promise<void> {
  for (const op of job.request.operations) {
    const content = Buffer.from(op.content);
    if (op.mode === FileMode.DELETE) {
      await editor.deleteFile(op.path);
    } else if (op.mode === FileMode.APPEND) {
      const existing = (await editor.readFile(op.path)) ?? Buffer.alloc(0);
      const parts = [existing];
      if (existing.length > 0 && existing.at(-1) !== 0x0a) parts.push(Buffer.from('\n'));
      if (op.yamlDocument) parts.push(Buffer.from('---\n'));
      parts.push(content);
      await editor.writeFile(op.path, Buffer.concat(parts));
    } else {
      await editor.writeFile(op.path, content);
    }
  }
}
