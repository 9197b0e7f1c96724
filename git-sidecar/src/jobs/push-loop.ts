/**
 * Gets a batch's commits onto its branch: fetch (unless the tip is known and uncontended), commit every
 * job, push; when the push is rejected because the branch moved (another cluster, another operator),
 * fetch again and re-apply every job on the new tip, appends included, after a jittered backoff.
 */
import type { Logger } from '@gco/common/logger';
import type { Attributes, Span } from '@opentelemetry/api';
import type { CommitSigner } from '../commit/signer.ts';
import { Reason, SidecarError } from '../errors.ts';
import type { ObjectStore } from '../git/objects.ts';
import { fetchBranch, type GitContext, push, remoteDefaultBranch, remoteRef } from '../git/remote.ts';
import type { Clone, CloneStore } from '../store/clone-store.ts';
import { flatCopy } from '../strings.ts';
import { commitJobs, type JobOutcome } from './batch-commits.ts';
import { ExecutionIndexes } from './execution-indexes.ts';
import type { Job } from './job.ts';
import type { SidecarMetrics } from './metrics.ts';
import { RecentMap } from './recent-map.ts';

export interface PushLoopOptions {
  store: CloneStore;
  logger: Logger;
  /** Push attempts before a batch gives up with CONFLICT_UNRESOLVABLE. */
  maxPushAttempts: number;
  /** Commits of branch history searched for execution ids. */
  executionSearchDepth: number;
  backoff: { initialMs: number; maxMs: number };
  metrics?: SidecarMetrics;
}

/** Runs one git phase of the batch, timed and traced by its caller. */
export type PhaseRunner = <T>(
  name: 'fetch' | 'build' | 'push',
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
) => Promise<T>;

/** A batch as the push loop sees it, its clone open and its branch decided. */
export interface BatchOnBranch {
  jobs: Job[];
  clone: Clone;
  objects: ObjectStore;
  /** A git context whose time limit is what is left of the batch's deadline. */
  ctx: () => GitContext;
  branch: string;
  /** The repository's default branch (cached). */
  defaultBranch: () => Promise<string>;
  signer: CommitSigner;
  phase: PhaseRunner;
  /** Aborted when the batch's deadline passes. */
  signal: AbortSignal;
}

export interface Pushed {
  results: JobOutcome[];
  pushed: boolean;
  createdBranch: boolean;
  attempts: number;
  baseSha: string | undefined;
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener on the batch's signal either way. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Branches whose contention flag is kept in memory; older ones are forgotten. */
export const maxContendedBranches = 512;

/** What the keys of a clone's branches start with, so that they can be forgotten with the clone. */
const repositoryPrefix = (cloneKey: string) => `${cloneKey}\0`;
const branchKeyOf = (cloneKey: string, branch: string) => flatCopy(`${repositoryPrefix(cloneKey)}${branch}`);

export class PushLoop {
  private readonly opts: PushLoopOptions;
  /** Per clone and branch: what was found in its history by execution id. */
  private readonly indexes: ExecutionIndexes;
  /** Branches whose last push was rejected: fetch before building, until a push goes through. */
  private readonly contended = new RecentMap<true>(maxContendedBranches);

  constructor(opts: PushLoopOptions) {
    this.opts = opts;
    this.indexes = new ExecutionIndexes(opts.executionSearchDepth);
  }

  /** Forgets what is kept of a repository's branches: its clone was removed. */
  forget(cloneKey: string): void {
    this.indexes.forget(repositoryPrefix(cloneKey));
    this.contended.deletePrefix(repositoryPrefix(cloneKey));
  }

  /** Entries held now, by structure (the sidecar's held-entries gauge). */
  held(): { execution_indexes: number; indexed_commits: number; contended_branches: number } {
    return {
      execution_indexes: this.indexes.size,
      indexed_commits: this.indexes.commits,
      contended_branches: this.contended.size,
    };
  }

  /** Jittered exponential backoff: about 50-250 ms at first, growing to the cap. */
  backoffMs(attempt: number): number {
    const base = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** (attempt - 1));
    return Math.min(this.opts.backoff.maxMs, base * (1 + Math.random() * 4));
  }

  async run(batch: BatchOnBranch): Promise<Pushed> {
    const { jobs, clone, objects, ctx, branch, phase, signal } = batch;
    const req = (jobs[0] as Job).request;
    const branchKey = branchKeyOf(clone.key, branch);
    for (let attempt = 1; ; attempt++) {
      // Optimistic: build on the tip we last saw and push without fetching. Pushes are fast-forward
      // only, so if anyone else moved the branch (and might have landed one of these executions), the
      // push is rejected and the next attempt fetches. Rebuilds always fetch: their base must be fresh.
      const known = await objects.resolveCommit(remoteRef(branch));
      const optimistic = attempt === 1 && !req.rebuildFromBase && known !== undefined && !this.contended.has(branchKey);
      let tip = known;
      let baseSha: string | undefined;
      if (!optimistic) {
        await phase('fetch', { 'gco.attempt': attempt }, async () => {
          const target = await fetchBranch(ctx(), branch, clone.partial);
          if (target.filterRefused && clone.partial) {
            this.opts.logger.info('the server refuses partial clone: this clone is now a full clone', {
              clone: clone.key,
            });
            await this.opts.store.markFull(clone);
          }
          tip = target.found ? await objects.resolveCommit(remoteRef(branch)) : undefined;
          if (!tip || req.rebuildFromBase) baseSha = await this.baseTip(batch, tip);
        });
      }

      const parent = req.rebuildFromBase ? baseSha : (tip ?? baseSha);
      const results = await phase('build', { 'gco.attempt': attempt, 'gco.optimistic': optimistic }, () =>
        // The oldest branches' indexes are forgotten (each pull request has its own head).
        commitJobs(jobs, { objects, index: this.indexes.of(branchKey), tip, parent, signer: batch.signer }),
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
      const pushed = await phase('push', { 'gco.attempt': attempt }, async (span) => {
        const result = await push(ctx(), head, branch, lease);
        if (!result.ok) span.setAttribute('gco.push.rejected', result.reason);
        return result;
      });
      if (pushed.ok) {
        if (!optimistic) this.contended.delete(branchKey);
        return { results, pushed: true, createdBranch: !tip, attempts: attempt, baseSha };
      }
      // The branch moved: fetch first on the next attempts and batches, until a push goes through.
      this.contended.set(branchKey, true);
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
  private async baseTip(batch: BatchOnBranch, tip: string | undefined): Promise<string | undefined> {
    const { clone, objects, ctx, branch } = batch;
    const job = batch.jobs[0] as Job;
    const baseBranch = job.request.baseBranch || (await batch.defaultBranch());
    if (baseBranch === branch) return tip;
    const base = await fetchBranch(ctx(), baseBranch, clone.partial);
    if (base.found) return objects.resolveCommit(remoteRef(baseBranch));
    if ((await remoteDefaultBranch(ctx(), job.remote.url)).empty) return undefined;
    throw new SidecarError(
      Reason.BRANCH_NOT_FOUND,
      `branch ${branch} does not exist and its base branch ${baseBranch} does not exist either`,
    );
  }
}
