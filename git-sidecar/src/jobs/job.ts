/** A commit job as the scheduler and the executor see it. */
import type { CommitRequest, CommitResponse } from '../gen/gco/sidecar/v1/sidecar_pb.js';
import type { RemoteUrl } from '../store/remote-url.ts';

export interface Job {
  request: CommitRequest;
  remote: RemoteUrl;
  /** Epoch milliseconds after which the job's caller has given up. */
  deadline: number;
  signal: AbortSignal;
  enqueuedAt: number;
  /** Jobs with equal batch keys may share one fetch and one push. */
  batchKey: string;
  resolve(response: CommitResponse): void;
  reject(error: unknown): void;
}
