/** A commit job as the scheduler and the executor see it. */

import type { CommitRequest, CommitResponse } from '@gco/sidecar-api';
import type { Context, Span } from '@opentelemetry/api';
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
  /** The trace context of the call (its server span), parent of the batch that runs the job. */
  traceContext: Context;
  /** From submission until a batch takes the job. */
  queueSpan: Span;
  resolve(response: CommitResponse): void;
  reject(error: unknown): void;
}
