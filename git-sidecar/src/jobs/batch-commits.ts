/**
 * The commits of a batch: one per job, in order, each on the previous one. A job whose execution id is
 * already on the branch (an earlier attempt landed) reports that commit and makes none: exactly once.
 */
import { buildCommit } from '../commit/build-commit.ts';
import type { CommitSigner } from '../commit/signer.ts';
import { Category, SidecarError } from '../errors.ts';
import type { ExecutionIndex } from '../git/execution-index.ts';
import type { ObjectStore } from '../git/objects.ts';
import { commitMessage } from '../git/remote.ts';
import type { Job } from './job.ts';

export interface JobOutcome {
  job: Job;
  sha: string;
  changed: boolean;
  alreadyApplied: boolean;
  error?: SidecarError;
}

export async function commitJobs(
  jobs: Job[],
  on: {
    objects: ObjectStore;
    /** The branch's execution index. */
    index: ExecutionIndex;
    /** The branch's tip, searched for the jobs' execution ids; undefined when the branch does not exist. */
    tip: string | undefined;
    /** What the first commit builds on (the tip, or the base of a new or rebuilt branch). */
    parent: string | undefined;
    signer: CommitSigner;
  },
): Promise<JobOutcome[]> {
  const { objects } = on;
  const ids = new Set(jobs.map((j) => j.request.executionId));
  const landed = on.tip ? await on.index.find(objects, on.tip, ids) : new Map<string, string>();
  const results: JobOutcome[] = [];
  const madeHere = new Map<string, string>();
  let current = on.parent;
  let currentTree = current ? await treeOf(objects, current) : undefined;
  const now = Math.floor(Date.now() / 1000);
  for (const job of jobs) {
    const id = job.request.executionId;
    const previous = landed.get(id) ?? madeHere.get(id);
    if (previous) {
      results.push({ job, sha: previous, changed: false, alreadyApplied: true });
      continue;
    }
    try {
      const req = job.request;
      const made = await buildCommit(objects, {
        parent: current,
        parentTree: currentTree,
        operations: req.operations,
        author: { name: req.author?.name ?? '', email: req.author?.email ?? '', time: now },
        message: commitMessage(req.message, { source: req.source, execution: id }),
        signer: on.signer,
      });
      if (!made) {
        results.push({ job, sha: current ?? '', changed: false, alreadyApplied: false });
        continue;
      }
      madeHere.set(id, made.sha);
      current = made.sha;
      currentTree = made.tree;
      results.push({ job, sha: made.sha, changed: true, alreadyApplied: false });
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

async function treeOf(objects: ObjectStore, commit: string): Promise<string> {
  const object = await objects.read(commit);
  const match = object && /^tree ([0-9a-f]+)$/m.exec(object.content.toString());
  if (!match?.[1]) throw new Error(`commit ${commit} is missing from the clone`);
  return match[1];
}
