/**
 * The gRPC service: checks each request, hands commit jobs to the scheduler, and turns failures into
 * Connect errors with a gco.sidecar.v1.Failure detail the controller can act on.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { Logger } from '@gco/common/logger';
import { tracer } from '@gco/common/telemetry';
import {
  type CommitRequest,
  type CommitResponse,
  FailureSchema,
  type GitSidecarService,
  HealthResponseSchema,
  ResolveDefaultBranchResponseSchema,
} from '@gco/sidecar-api';
import { context, trace } from '@opentelemetry/api';
import { materializeCredentials, redactActiveSecrets } from './credentials/credentials.ts';
import { asSidecarError, Category, connectCodes, Reason } from './errors.ts';
import { explainFailure } from './failure-messages.ts';
import { remoteDefaultBranch } from './git/remote.ts';
import type { SidecarMetrics } from './jobs/metrics.ts';
import { batchKey, type Scheduler } from './jobs/scheduler.ts';
import { type Limits, validateCommitRequest } from './jobs/validation.ts';
import type { CloneStore } from './store/clone-store.ts';
import { parseRemoteUrl } from './store/remote-url.ts';

export interface ServiceOptions {
  scheduler: Scheduler;
  store: CloneStore;
  limits: Limits;
  allowFileUrls: boolean;
  /** Deadline of a job whose call carries none. */
  defaultJobTimeoutMs: number;
  gitTimeoutMs: number;
  logger: Logger;
  metrics?: SidecarMetrics;
}

/** Any error as the Connect error the caller gets: its Failure detail, scrubbed of the secrets in flight. */
export function toConnectError(error: unknown): ConnectError {
  const failure = asSidecarError(error).redacted(redactActiveSecrets);
  return new ConnectError(failure.message, connectCodes[failure.reason], undefined, [
    {
      desc: FailureSchema,
      value: create(FailureSchema, { reason: failure.reason, category: failure.category, message: failure.message }),
    },
  ]);
}

/** A failed call in the log: a warning, or for an internal error (a bug) an error with the stack. */
function logFailure(logger: Logger, error: unknown, connectError: ConnectError, fields: Record<string, unknown> = {}) {
  const failure = asSidecarError(error);
  const line = {
    ...fields,
    code: Code[connectError.code],
    reason: Reason[failure.reason],
    error: connectError.rawMessage,
  };
  if (failure.category === Category.INTERNAL) {
    // `detail` was scrubbed while the job's secrets were known; a failure that never had credentials
    // in flight has no detail, and its stack goes through the logger's redactor.
    const cause = failure.cause instanceof Error ? failure.cause : failure;
    logger.error('job failed', { ...line, stack: failure.detail ?? cause.stack ?? '' });
  } else {
    logger.warn('job failed', line);
  }
}

function deadlineOf(ctx: HandlerContext, fallbackMs: number): number {
  const remaining = ctx.timeoutMs();
  return Date.now() + (remaining !== undefined && remaining > 0 ? remaining : fallbackMs);
}

export function createService(opts: ServiceOptions): ServiceImpl<typeof GitSidecarService> {
  let nonce = 0;
  return {
    async commit(req: CommitRequest, ctx: HandlerContext): Promise<CommitResponse> {
      // The same fields as the controller's lines about this execution, so one query finds both.
      const [kind, namespace, name] = req.source.split('/');
      const logger = opts.logger.child({ kind, namespace, name, execution_id: req.executionId });
      try {
        validateCommitRequest(req, opts.limits);
        const remote = parseRemoteUrl(req.repository?.url ?? '', { allowFileUrls: opts.allowFileUrls });
        trace.getActiveSpan()?.setAttributes({
          'gco.execution.id': req.executionId,
          'gco.source': req.source,
          'gco.repository': remote.normalized,
        });
        const response = await new Promise<CommitResponse>((resolve, reject) => {
          opts.scheduler.submit({
            request: req,
            remote,
            deadline: deadlineOf(ctx, opts.defaultJobTimeoutMs),
            signal: ctx.signal,
            enqueuedAt: Date.now(),
            batchKey: batchKey(req, String(nonce++)),
            traceContext: context.active(),
            queueSpan: tracer().startSpan('sidecar queue'),
            resolve,
            reject,
          });
        });
        opts.metrics?.jobDone(response);
        logger.info('job done', {
          repository: remote.normalized,
          branch: response.branch,
          commit: response.commitSha,
          changed: response.changed,
          alreadyApplied: response.alreadyApplied,
          attempts: response.attempts,
          batch: response.batchSize,
          ms: response.timings?.totalMs,
        });
        return response;
      } catch (error) {
        const connectError = toConnectError(error);
        opts.metrics?.jobFailed(asSidecarError(error).reason);
        logFailure(logger, error, connectError);
        throw connectError;
      }
    },

    async resolveDefaultBranch(req, ctx) {
      try {
        const remote = parseRemoteUrl(req.repository?.url ?? '', { allowFileUrls: opts.allowFileUrls });
        const credentials = await materializeCredentials(remote, req.repository?.credentials, opts.store.tmpDir);
        try {
          const timeoutMs = Math.min(opts.gitTimeoutMs, deadlineOf(ctx, opts.defaultJobTimeoutMs) - Date.now());
          const result = await remoteDefaultBranch({ env: credentials.env, timeoutMs, signal: ctx.signal }, remote.url);
          return create(ResolveDefaultBranchResponseSchema, result);
        } catch (error) {
          // Scrubbed here, before `finally` forgets the job's secrets: the words may quote the server.
          throw (await explainFailure(error, { remote, credentials: req.repository?.credentials })).redacted(
            redactActiveSecrets,
          );
        } finally {
          await credentials.dispose();
        }
      } catch (error) {
        const connectError = toConnectError(error);
        if (asSidecarError(error).category === Category.INTERNAL) logFailure(opts.logger, error, connectError);
        throw connectError;
      }
    },

    async health() {
      return create(HealthResponseSchema, {
        serving: true,
        clones: opts.store.count(),
        cloneBytes: BigInt(opts.store.totalBytes()),
        jobsInFlight: opts.scheduler.inFlight(),
      });
    },
  };
}
