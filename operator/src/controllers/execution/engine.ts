/**
 * Executions, shared by GitCommit and PullRequest: the reconcile that decides whether one starts
 * (triggers.ts), keeps it across retries and restarts (id and template instant recorded in status
 * before any side effect), runs one attempt of it in its trace (tracing.ts) and ends it as a retry
 * (retry.ts), a stall or a success, with what status, conditions and Events say (transitions.ts). What
 * an execution publishes is the kind's own `publish`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@gco/common/logger';
import type { ActiveExecution, Phases } from '../../api/v1/status.ts';
import { type Action, done, type ReconcileContext, requeueAfter } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import { objectKey, objectPath, type ResourceType } from '../../runtime/resources.ts';
import { patchStatus } from '../../runtime/status.ts';
import { kubeTime } from '../../runtime/time.ts';
import type {
  Executable,
  KindStatusPatch,
  Outcome,
  Publish,
  SecretVersions,
  StatusOf,
  StatusPatch,
} from './executable.ts';
import { asExecutionFailure, ExecutionFailure } from './failure.ts';
import { afterFailure } from './failure-policy.ts';
import type { ExecutionMetrics } from './metrics.ts';
import { type RetryPolicy, retryPolicyOf } from './retry.ts';
import { scheduleError } from './schedule.ts';
import { inExecutionSpan, resultRecorder, traceparentOfActiveSpan } from './tracing.ts';
import * as status from './transitions.ts';
import { dueTrigger, nextScheduled, untilNextTick } from './triggers.ts';

export interface EngineOptions<T extends Executable> {
  client: KubeClient;
  type: ResourceType;
  events: EventRecorder;
  secretVersion: SecretVersions<T>;
  publish: Publish<T>;
  /** Phases of this kind: running and failed. */
  phases: Phases;
  metrics?: ExecutionMetrics;
  now?: () => Date;
}

/** One attempt as it runs: what it is, who logs it, and what it learnt of the auth Secret. */
interface Attempt {
  execution: ActiveExecution;
  kind: string;
  logger: Logger;
  /** Records the attempt's result on its span. */
  ended(result: string): void;
  /** The auth Secret version to record with whatever the attempt ends in. */
  secretUsed(): Promise<StatusPatch>;
}

export class ExecutionEngine<T extends Executable> {
  private readonly opts: EngineOptions<T>;
  /**
   * Executions this process finished, by resource key, until the cache shows them finished too (one
   * entry per resource at most; see currentView).
   */
  private readonly finishedHere = new Map<string, string>();

  constructor(opts: EngineOptions<T>) {
    this.opts = opts;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private kindOf(obj: T): string {
    return obj.kind ?? this.opts.type.kind;
  }

  /**
   * The object as this process last left it. Until the watch delivers the status write that finished an
   * execution, the cache still shows that execution as active; continuing it from there would run it once
   * more (the sidecar would find its commit) and record over what happened meanwhile, such as a Secret
   * rotated while it ran. Then, and only then, the object is read from the API server.
   */
  private async currentView(obj: T, signal: AbortSignal): Promise<T> {
    const key = objectKey(obj);
    const finished = this.finishedHere.get(key);
    if (finished === undefined) return obj;
    if (obj.status?.activeExecution?.id !== finished) {
      this.finishedHere.delete(key);
      return obj;
    }
    const path = objectPath(this.opts.type, obj.metadata.namespace, obj.metadata.name);
    return this.opts.client.get<T>(path, { signal });
  }

  async reconcile(cached: T, ctx: ReconcileContext): Promise<Action> {
    let obj = await this.currentView(cached, ctx.signal);
    const now = this.now();
    let execution = obj.status?.activeExecution ?? undefined;
    // A spec change abandons an execution of the previous spec: the new one renders the new spec.
    if (execution && execution.generation !== undefined && execution.generation !== obj.metadata.generation) {
      execution = undefined;
    }
    if (!execution) {
      if (obj.spec.suspend) return done;
      const scheduleProblem = scheduleError(obj.spec.schedule);
      if (scheduleProblem) return this.stallOnSpec(obj, 'InvalidSchedule', `spec.schedule: ${scheduleProblem}`);
      const due = await dueTrigger(obj, now, this.opts.secretVersion, ctx.signal);
      if (!due) return untilNextTick(obj, now);
      execution = {
        id: `${(obj.metadata.uid ?? '').slice(0, 8)}-${now.getTime().toString(36)}-${randomBytes(3).toString('hex')}`,
        trigger: due.trigger,
        instant: kubeTime(now),
        attempts: 0,
        generation: obj.metadata.generation,
        ...traceparentOfActiveSpan(),
      };
      // Guarded by the resourceVersion read: if the cache was stale (our own last patch not seen yet),
      // the API server answers 409 and the reconcile is retried on fresh data, so no second execution
      // starts from an out-of-date view.
      obj = await this.patch(obj, status.started(obj, execution, due, this.opts.phases), { guarded: true });
    }
    // A retry waits for its backoff even when something else (a resync, an unrelated edit) wakes it.
    const wait = execution.notBefore ? Date.parse(execution.notBefore) - now.getTime() : 0;
    if (wait > 0) return requeueAfter(wait);
    const active = execution;
    return inExecutionSpan(this.kindOf(obj), obj, active, () => this.run(obj, active, ctx));
  }

  /**
   * Stalls on a spec no execution can fix (a schedule that cannot run), once per generation; nothing
   * runs until the spec changes.
   */
  private async stallOnSpec(obj: T, reason: string, message: string): Promise<Action> {
    const stalled = (obj.status?.conditions ?? []).find((c) => c.type === 'Stalled');
    if (
      stalled?.status === 'True' &&
      stalled.reason === reason &&
      obj.status?.observedGeneration === obj.metadata.generation
    ) {
      return done;
    }
    return this.stall(obj, undefined, reason, message, {
      observedGeneration: obj.metadata.generation,
      nextScheduledTime: null,
    });
  }

  /**
   * The one way a resource stalls: Ready=False, Stalled=True with the reason, one Warning Event. With an
   * attempt, the stall ends its execution (into the history); without one, it is the spec that cannot run.
   */
  private async stall(
    obj: T,
    attempt: Attempt | undefined,
    reason: string,
    message: string,
    fields: StatusPatch,
  ): Promise<Action> {
    const patch = { ...status.stalled(obj, reason, message, this.opts.phases), ...fields };
    if (attempt) {
      attempt.logger.error('execution stalled', { reason, error: message });
      attempt.ended('Failed');
      await this.finish(
        obj,
        attempt.execution,
        { ...patch, ...(await attempt.secretUsed()) },
        { result: 'Failed', reason, message },
      );
    } else {
      await this.patch(obj, patch);
    }
    await this.opts.events.record(obj, 'Warning', reason, message);
    return done;
  }

  private async run(obj: T, execution: ActiveExecution, ctx: ReconcileContext): Promise<Action> {
    const kind = this.kindOf(obj);
    const metrics = this.opts.metrics;
    // The Secret version this attempt used, recorded with whatever the attempt ends in (retry, stall,
    // success), so that only a later change of the Secret starts another execution. An attempt that
    // ended before reading the Secret (an invalid branch, a bad annotation) records the version in force
    // now, or a later resync would take the recorded one for outdated and start an execution for it.
    let secretRead: string | undefined;
    const attempt: Attempt = {
      execution: { ...execution, attempts: execution.attempts + 1 },
      kind,
      logger: ctx.logger.child({ kind, execution_id: execution.id }),
      ended: resultRecorder(),
      secretUsed: async () => {
        if (secretRead !== undefined) return { authSecretResourceVersion: secretRead };
        if (!obj.spec.auth?.secretName) return {};
        const live = await this.opts.secretVersion.live(obj, ctx.signal).catch(() => '');
        return live ? { authSecretResourceVersion: live } : {};
      },
    };
    let policy: RetryPolicy;
    try {
      policy = retryPolicyOf(obj.metadata.annotations);
    } catch (error) {
      // An annotation no attempt can follow stalls before anything runs.
      if (error instanceof ExecutionFailure) return this.stall(obj, attempt, error.reason, error.message, {});
      throw error;
    }
    const started = performance.now();
    const attempted = (ok: boolean) => metrics?.attempted(kind, ok, (performance.now() - started) / 1000);
    let outcome: Outcome<StatusOf<T>>;
    try {
      outcome = await this.opts.publish(obj, {
        execution: attempt.execution,
        instant: new Date(execution.instant),
        secretRead: (resourceVersion) => {
          secretRead = resourceVersion;
        },
        logger: attempt.logger,
        signal: ctx.signal,
        saveStatus: async (fields: KindStatusPatch<StatusOf<T>>) => {
          obj = await this.patch(obj, fields);
        },
      });
      attempted(true);
    } catch (error) {
      // Cancelled (shutdown, lost Lease): not a failed attempt. Nothing is written; the execution stays
      // in status.activeExecution, and whoever leads next continues it with the same id.
      if (ctx.signal.aborted) throw error;
      attempted(false);
      const failure = asExecutionFailure(error);
      if (failure.category === 'internal') {
        const stack = failure.cause instanceof Error ? { stack: failure.cause.stack } : {};
        attempt.logger.error('execution failed with an internal error', {
          reason: failure.reason,
          error: failure.message,
          ...stack,
        });
      }
      const next = afterFailure(failure, policy, attempt.execution.attempts);
      if ('stall' in next) {
        return this.stall(obj, attempt, next.stall.reason, next.stall.message, {
          retryCount: attempt.execution.attempts - 1,
        });
      }
      return this.retry(obj, attempt, failure, next.retryInMs);
    }
    return this.succeed(obj, attempt, outcome);
  }

  private async retry(obj: T, attempt: Attempt, failure: ExecutionFailure, delayMs: number): Promise<Action> {
    attempt.logger.warn('execution failed; retrying', {
      reason: failure.reason,
      error: failure.message,
      retryInMs: delayMs,
    });
    attempt.ended(`Retrying: ${failure.reason}`);
    await this.patch(obj, {
      ...status.retrying(obj, attempt.execution, failure, delayMs, this.now()),
      ...(await attempt.secretUsed()),
    });
    // Counted once the status says so: a failed status write repeats this attempt.
    this.opts.metrics?.retrying(attempt.kind, failure.reason);
    await this.opts.events.record(
      obj,
      'Warning',
      failure.reason,
      `${failure.message}; retrying in ${Math.round(delayMs / 1000)}s`,
    );
    return requeueAfter(delayMs);
  }

  private async succeed(obj: T, attempt: Attempt, outcome: Outcome<StatusOf<T>>): Promise<Action> {
    attempt.ended(outcome.result);
    attempt.logger.info('execution succeeded', {
      result: outcome.result,
      commit: outcome.commitSHA,
      attempts: attempt.execution.attempts,
    });
    const finished = await this.finish(
      obj,
      attempt.execution,
      { ...status.succeeded(obj, attempt.execution, outcome), ...(await attempt.secretUsed()) },
      { result: outcome.result, reason: outcome.result, commitSHA: outcome.commitSHA, message: outcome.message },
    );
    await this.opts.events.record(obj, 'Normal', outcome.result, outcome.message);
    return untilNextTick(finished, this.now());
  }

  /** Ends the execution in status: clears it, records it in the history, sets the next tick. */
  private async finish(
    obj: T,
    execution: ActiveExecution,
    fields: StatusPatch,
    history: status.HistoryOutcome,
  ): Promise<T> {
    const now = this.now();
    let tick: Date | undefined;
    try {
      tick = obj.spec.schedule ? nextScheduled(obj, now) : undefined;
    } catch {
      tick = undefined;
    }
    const finished = await this.patch(obj, { ...fields, ...status.finished(obj, execution, history, now, tick) });
    this.finishedHere.set(objectKey(obj), execution.id);
    // Counted once the status says so: a failed status write repeats the execution's last attempt.
    this.opts.metrics?.finished(this.kindOf(obj), history.result);
    return finished;
  }

  private async patch(obj: T, fields: StatusPatch, opts: { guarded?: boolean } = {}): Promise<T> {
    const updated = await patchStatus<T>(
      this.opts.client,
      this.opts.type,
      obj,
      fields,
      opts.guarded ? obj.metadata.resourceVersion : undefined,
    );
    return {
      ...obj,
      status: updated.status,
      metadata: { ...obj.metadata, resourceVersion: updated.metadata.resourceVersion },
    };
  }
}
