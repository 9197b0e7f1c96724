/**
 * What a batch answers each of its jobs: a response carrying the batch's facts (branch, attempts, phase
 * timings) and the job's own (its commit, whether it changed anything), or the batch's failure.
 */
import { create } from '@bufbuild/protobuf';
import { type CommitResponse, CommitResponseSchema, PhaseTimingsSchema } from '@gco/sidecar-api';
import { redactActiveSecrets } from '../credentials/credentials.ts';
import type { SidecarError } from '../errors.ts';
import { explainFailure, type FailureContext } from '../failure-messages.ts';
import type { JobOutcome } from './batch-commits.ts';

/** Milliseconds a batch spent in each git phase. */
export interface Timings {
  clone: number;
  fetch: number;
  build: number;
  push: number;
}

export interface BatchFacts {
  branch: string;
  pushed: boolean;
  createdBranch: boolean;
  attempts: number;
  baseSha: string | undefined;
  batchSize: number;
  /** Epoch milliseconds when the batch took its jobs. */
  started: number;
  timings: Timings;
}

/** Resolves each job with its response, or rejects it with its own failure (a path clash). */
export function respond(results: JobOutcome[], batch: BatchFacts): void {
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

/**
 * The failure every job of a failed batch is answered with: in words for users (failure-messages.ts),
 * scrubbed of the credentials in flight.
 */
export async function batchFailure(error: unknown, context: FailureContext): Promise<SidecarError> {
  return (await explainFailure(error, context)).redacted(redactActiveSecrets);
}
