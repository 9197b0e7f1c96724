/**
 * Executions, shared by GitCommit and PullRequest: when one starts (a new generation, a schedule tick,
 * a new reconcile request, a changed auth Secret), how it is kept across retries and restarts (id and
 * template instant recorded in status before any side effect), how failures are retried or stall, and
 * what status, conditions and Events say. What an execution publishes is the kind's own `publish`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@gco/common/logger';
import { inSpan } from '@gco/common/telemetry';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { annotations } from '../../api/v1/types.ts';
import type { SkippedReference } from '../../render/render.ts';
import { type Condition, setCondition } from '../../runtime/conditions.ts';
import { type Action, done, type ReconcileContext, requeueAfter } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import { type KubeObject, objectKey, objectPath, type ResourceType } from '../../runtime/resources.ts';
import { patchStatus } from '../../runtime/status.ts';
import { kubeTime } from '../../runtime/time.ts';
import { asExecutionFailure, ExecutionFailure } from './failure.ts';
import { afterFailure } from './failure-policy.ts';
import type { ExecutionMetrics } from './metrics.ts';
import { retryPolicyOf } from './retry.ts';
import { nextTick, scheduleError } from './schedule.ts';

export type Trigger = 'Generation' | 'Request' | 'SecretChanged' | 'Schedule';

export interface ActiveExecution {
  id: string;
  trigger: Trigger;
  instant: string;
  attempts: number;
  generation?: number;
  notBefore?: string;
  traceparent?: string;
}

export interface ExecutionStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  phase?: string;
  message?: string;
  commitSHA?: string;
  shortCommitSHA?: string;
  branch?: string;
  lastExecutionTime?: string;
  nextScheduledTime?: string;
  lastScheduledTime?: string;
  lastHandledReconcileAt?: string;
  retryCount?: number;
  authSecretResourceVersion?: string;
  skippedReferences?: SkippedReference[];
  activeExecution?: ActiveExecution | null;
  executionHistory?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface ExecutableSpec {
  auth?: { secretName?: string };
  schedule?: string;
  suspend?: boolean;
}

export type Executable = KubeObject & { spec: ExecutableSpec; status?: ExecutionStatus };

/** What a successful execution did, as the kind describes it. */
export interface Outcome {
  /** Status reason and history result: Committed, UpToDate, PullRequestOpened… */
  result: string;
  phase: string;
  message: string;
  commitSHA?: string;
  branch?: string;
  skipped: SkippedReference[];
  /** Kind-specific status fields (head branch, pull request number…). */
  status?: Record<string, unknown>;
}

export interface ExecutionContext {
  execution: ActiveExecution;
  instant: Date;
  /** Reports the resourceVersion of the auth Secret this attempt read its credentials from. */
  secretRead(resourceVersion: string): void;
  /** Records kind-specific status before a side effect (a PR's head branch before its push). */
  saveStatus(fields: Record<string, unknown>): Promise<void>;
  logger: Logger;
  /** Aborted when the operator shuts down or loses the Lease: every API read and sidecar call takes it. */
  signal: AbortSignal;
}

export interface EngineOptions<T extends Executable> {
  client: KubeClient;
  type: ResourceType;
  events: EventRecorder;
  /**
   * resourceVersion of a resource's auth Secret: as the (metadata-only) cache has it, and as the API
   * server has it now ('' when the Secret does not exist). The cache says cheaply that something may
   * have changed; the live read confirms it, since a cache behind a broken watch lags.
   */
  secretVersion: { cached(obj: T): string; live(obj: T, signal?: AbortSignal): Promise<string> };
  publish(obj: T, ctx: ExecutionContext): Promise<Outcome>;
  /** Phases of this kind: running and failed. */
  phases: { running: string; failed: string };
  metrics?: ExecutionMetrics;
  now?: () => Date;
}

const historyLimit = 10;
/** Attempts of one execution that share its first attempt's trace (about 40 minutes of default backoff). */
const attemptsInOneTrace = 10;

/** The W3C traceparent of the active span, when tracing is on (the no-op propagator writes nothing). */
function traceparentOfActiveSpan(): { traceparent?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent } : {};
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

  /** The trigger of a new execution, if one is due now. */
  private async dueTrigger(
    obj: T,
    now: Date,
    signal: AbortSignal,
  ): Promise<{ trigger: Trigger; tick?: Date; secretVersion?: string } | undefined> {
    const status = obj.status ?? {};
    if (status.observedGeneration !== obj.metadata.generation) return { trigger: 'Generation' };
    const requested = obj.metadata.annotations?.[annotations.reconcileRequestedAt];
    if (requested && requested !== status.lastHandledReconcileAt) return { trigger: 'Request' };
    const secretVersion = await this.changedSecretVersion(obj, signal);
    if (secretVersion !== undefined) return { trigger: 'SecretChanged', secretVersion };
    if (this.isStalled(obj)) return undefined;
    let tick = this.nextScheduled(obj);
    if (!tick || tick > now || !obj.spec.schedule) return undefined;
    // Ticks missed while the operator was down make one execution, for the latest of them, not a burst.
    for (let i = 0; i < 10_000; i++) {
      const next = nextTick(obj.spec.schedule, tick);
      if (next > now) break;
      tick = next;
    }
    return { trigger: 'Schedule', tick };
  }

  /**
   * The auth Secret's version when it differs from the one the last execution used, else undefined.
   * One rule, whatever the cache says: an execution starts for a Secret only when the version read now
   * differs from the version recorded as used (and the Secret exists: a deleted Secret is no new
   * credentials). A lagging cache costs one GET, never an execution.
   */
  private async changedSecretVersion(obj: T, signal: AbortSignal): Promise<string | undefined> {
    if (!obj.spec.auth?.secretName) return undefined;
    const used = obj.status?.authSecretResourceVersion ?? '';
    if (this.opts.secretVersion.cached(obj) === used) return undefined;
    const live = await this.opts.secretVersion.live(obj, signal);
    return live !== '' && live !== used ? live : undefined;
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

  private isStalled(obj: T): boolean {
    return (obj.status?.conditions ?? []).some((c) => c.type === 'Stalled' && c.status === 'True');
  }

  /** The schedule's next tick after the last one executed (or after creation). */
  private nextScheduled(obj: T): Date | undefined {
    const schedule = obj.spec.schedule;
    if (!schedule) return undefined;
    const from = obj.status?.lastScheduledTime ?? obj.metadata.creationTimestamp ?? kubeTime(this.now());
    return nextTick(schedule, new Date(from));
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
      const due = await this.dueTrigger(obj, now, ctx.signal);
      if (!due) return this.untilNextTick(obj, now);
      execution = {
        id: `${(obj.metadata.uid ?? '').slice(0, 8)}-${now.getTime().toString(36)}-${randomBytes(3).toString('hex')}`,
        trigger: due.trigger,
        instant: kubeTime(now),
        attempts: 0,
        generation: obj.metadata.generation,
        ...traceparentOfActiveSpan(),
      };
      // Recorded before anything is written to git: a retry, or a restarted operator, continues this same
      // execution (same id, same template instant) and so makes at most one commit.
      // Guarded by the resourceVersion read: if the cache was stale (our own last patch not seen yet),
      // the API server answers 409 and the reconcile is retried on fresh data, so no second execution
      // starts from an out-of-date view.
      obj = await this.patch(
        obj,
        {
          // A merge patch: fields of an abandoned execution (its backoff, its trace) are cleared explicitly.
          activeExecution: { notBefore: null, traceparent: null, ...execution },
          phase: this.opts.phases.running,
          lastHandledReconcileAt:
            obj.metadata.annotations?.[annotations.reconcileRequestedAt] ?? obj.status?.lastHandledReconcileAt,
          // The version that triggered a SecretChanged execution, so that one that fails before reading
          // the Secret does not trigger itself again; an attempt that reads it records what it read.
          ...(due.secretVersion ? { authSecretResourceVersion: due.secretVersion } : {}),
          ...(due.tick ? { lastScheduledTime: kubeTime(due.tick) } : {}),
          conditions: this.conditions(obj, {
            ready: ['Unknown', 'Progressing', `Execution ${execution.id} (${execution.trigger}) is running`],
            reconciling: true,
            stalled: undefined,
          }),
        },
        { guarded: true },
      );
    }
    // A retry waits for its backoff even when something else (a resync, an unrelated edit) wakes it.
    const wait = execution.notBefore ? Date.parse(execution.notBefore) - now.getTime() : 0;
    if (wait > 0) return requeueAfter(wait);
    const active = execution;
    const attributes = {
      'gco.kind': obj.kind ?? this.opts.type.kind,
      'k8s.namespace.name': obj.metadata.namespace ?? '',
      'gco.name': obj.metadata.name,
      'gco.execution.id': active.id,
      'gco.execution.trigger': active.trigger,
      'gco.execution.attempt': active.attempts + 1,
    };
    // The first attempts, also after a backoff or an operator restart, join the trace of the first one,
    // linking their own reconcile. Later ones (backoff grows to minutes) start a trace of their own that
    // links the first: a trace that spans hours is one trace backends show poorly.
    const reconcileSpan = trace.getActiveSpan()?.spanContext();
    const firstContext = active.traceparent
      ? trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: active.traceparent }))
      : undefined;
    const join = firstContext !== undefined && active.attempts < attemptsInOneTrace;
    return context.with(join ? trace.setSpanContext(context.active(), firstContext) : context.active(), () =>
      inSpan('execution', attributes, (span) => {
        const link = join ? reconcileSpan : firstContext;
        if (link && link.traceId !== span.spanContext().traceId) span.addLink({ context: link });
        return this.run(obj, active, ctx);
      }),
    );
  }

  /**
   * Stalls on a spec no execution can fix (a schedule that cannot run): Ready=False, Stalled=True with
   * the reason, once per generation; nothing runs until the spec changes.
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
    await this.patch(obj, {
      phase: this.opts.phases.failed,
      message,
      observedGeneration: obj.metadata.generation,
      nextScheduledTime: null,
      conditions: this.conditions(obj, {
        ready: ['False', reason, message],
        reconciling: false,
        stalled: [reason, message],
      }),
    });
    await this.opts.events.record(obj, 'Warning', reason, message);
    return done;
  }

  private untilNextTick(obj: T, now: Date): Action {
    const tick = this.nextScheduled(obj);
    if (!tick || this.isStalled(obj)) return done;
    return requeueAfter(Math.max(1000, tick.getTime() - now.getTime()));
  }

  private async run(obj: T, execution: ActiveExecution, ctx: ReconcileContext): Promise<Action> {
    const kind = obj.kind ?? this.opts.type.kind;
    const logger = ctx.logger.child({ kind, execution_id: execution.id });
    const attempt = { ...execution, attempts: execution.attempts + 1 };
    const span = trace.getActiveSpan();
    const metrics = this.opts.metrics;
    /** The result of this attempt, on its span. */
    const ended = (result: string) => span?.setAttribute('gco.result', result);
    const started = performance.now();
    const attempted = (ok: boolean) => metrics?.attempted(kind, ok, (performance.now() - started) / 1000);
    // The Secret version this attempt used, recorded with whatever the attempt ends in (retry, stall,
    // success), so that only a later change of the Secret starts another execution. An attempt that
    // ended before reading the Secret (an invalid branch, a bad annotation) records the version in force
    // now, or a later resync would take the recorded one for outdated and start an execution for it.
    let secretRead: string | undefined;
    const secretUsed = async (): Promise<{ authSecretResourceVersion?: string }> => {
      if (secretRead !== undefined) return { authSecretResourceVersion: secretRead };
      if (!obj.spec.auth?.secretName) return {};
      const live = await this.opts.secretVersion.live(obj, ctx.signal).catch(() => '');
      return live ? { authSecretResourceVersion: live } : {};
    };
    let outcome: Outcome;
    try {
      const policy = retryPolicyOf(obj.metadata.annotations);
      try {
        outcome = await this.opts.publish(obj, {
          execution: attempt,
          instant: new Date(execution.instant),
          secretRead: (resourceVersion) => {
            secretRead = resourceVersion;
          },
          logger,
          signal: ctx.signal,
          saveStatus: async (fields) => {
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
        const next = afterFailure(failure, policy, attempt.attempts);
        if (failure.category === 'internal') {
          const stack = failure.cause instanceof Error ? { stack: failure.cause.stack } : {};
          logger.error('execution failed with an internal error', {
            reason: failure.reason,
            error: failure.message,
            ...stack,
          });
        }
        if ('retryInMs' in next) {
          const delay = next.retryInMs;
          logger.warn('execution failed; retrying', {
            reason: failure.reason,
            error: failure.message,
            retryInMs: delay,
          });
          ended(`Retrying: ${failure.reason}`);
          await this.patch(obj, {
            activeExecution: { ...attempt, notBefore: kubeTime(new Date(this.now().getTime() + delay)) },
            ...(await secretUsed()),
            retryCount: attempt.attempts,
            message: failure.message,
            conditions: this.conditions(obj, {
              ready: [
                'False',
                failure.reason,
                `${failure.message} (retry ${attempt.attempts} in ${Math.round(delay / 1000)}s)`,
              ],
              reconciling: true,
              stalled: undefined,
            }),
          });
          // Counted once the status says so: a failed status write repeats this attempt.
          metrics?.retrying(kind, failure.reason);
          await this.opts.events.record(
            obj,
            'Warning',
            failure.reason,
            `${failure.message}; retrying in ${Math.round(delay / 1000)}s`,
          );
          return requeueAfter(delay);
        }
        const { reason, message } = next.stall;
        logger.error('execution stalled', { reason, error: message });
        ended('Failed');
        await this.finish(obj, attempt, {
          phase: this.opts.phases.failed,
          message,
          ...(await secretUsed()),
          retryCount: attempt.attempts - 1,
          conditions: this.conditions(obj, {
            ready: ['False', reason, message],
            reconciling: false,
            stalled: [reason, message],
          }),
          history: { result: 'Failed', reason, message },
        });
        await this.opts.events.record(obj, 'Warning', reason, message);
        return done;
      }
    } catch (error) {
      if (!ctx.signal.aborted && error instanceof ExecutionFailure && error.permanent) {
        ended('Failed');
        await this.finish(obj, attempt, {
          phase: this.opts.phases.failed,
          message: error.message,
          ...(await secretUsed()),
          conditions: this.conditions(obj, {
            ready: ['False', error.reason, error.message],
            reconciling: false,
            stalled: [error.reason, error.message],
          }),
          history: { result: 'Failed', reason: error.reason, message: error.message },
        });
        await this.opts.events.record(obj, 'Warning', error.reason, error.message);
        return done;
      }
      throw error;
    }
    ended(outcome.result);
    logger.info('execution succeeded', {
      result: outcome.result,
      commit: outcome.commitSHA,
      attempts: attempt.attempts,
    });
    const finished = await this.finish(obj, attempt, {
      phase: outcome.phase,
      message: outcome.message,
      ...(await secretUsed()),
      retryCount: attempt.attempts - 1,
      ...(outcome.commitSHA ? { commitSHA: outcome.commitSHA, shortCommitSHA: outcome.commitSHA.slice(0, 7) } : {}),
      ...(outcome.branch ? { branch: outcome.branch } : {}),
      skippedReferences: outcome.skipped,
      ...outcome.status,
      conditions: this.conditions(obj, {
        ready: ['True', outcome.result, outcome.message],
        reconciling: false,
        stalled: undefined,
      }),
      history: {
        result: outcome.result,
        reason: outcome.result,
        commitSHA: outcome.commitSHA,
        message: outcome.message,
      },
    });
    await this.opts.events.record(obj, 'Normal', outcome.result, outcome.message);
    return this.untilNextTick(finished, this.now());
  }

  /** Ends the execution in status: clears it, records it in the history, sets the next tick. */
  private async finish(
    obj: T,
    execution: ActiveExecution,
    fields: Record<string, unknown> & { history: Record<string, unknown> },
  ): Promise<T> {
    const { history, ...rest } = fields;
    const now = this.now();
    const entry: Record<string, unknown> = {
      id: execution.id,
      trigger: execution.trigger,
      startTime: execution.instant,
      completionTime: kubeTime(now),
      attempts: execution.attempts,
      ...Object.fromEntries(Object.entries(history).filter(([, v]) => v !== undefined && v !== '')),
    };
    if (typeof entry.message === 'string') entry.message = entry.message.slice(0, 4096);
    let next: string | undefined;
    try {
      const tick = obj.spec.schedule ? this.nextScheduled(obj) : undefined;
      next = tick ? kubeTime(tick) : undefined;
    } catch {
      next = undefined;
    }
    const finished = await this.patch(obj, {
      ...rest,
      activeExecution: null,
      observedGeneration: execution.generation ?? obj.metadata.generation,
      lastExecutionTime: kubeTime(now),
      nextScheduledTime: next ?? null,
      executionHistory: [entry, ...(obj.status?.executionHistory ?? [])].slice(0, historyLimit),
    });
    this.finishedHere.set(objectKey(obj), execution.id);
    // Counted once the status says so: a failed status write repeats the execution's last attempt.
    this.opts.metrics?.finished(obj.kind ?? this.opts.type.kind, String(history.result));
    return finished;
  }

  private conditions(
    obj: T,
    c: {
      ready: ['True' | 'False' | 'Unknown', string, string];
      reconciling: boolean;
      stalled: [string, string] | undefined;
    },
  ): Condition[] {
    const generation = obj.metadata.generation;
    let list = obj.status?.conditions;
    list = setCondition(list, {
      type: 'Ready',
      status: c.ready[0],
      reason: c.ready[1],
      message: c.ready[2],
      observedGeneration: generation,
    });
    list = setCondition(list, {
      type: 'Reconciling',
      status: c.reconciling ? 'True' : 'False',
      reason: c.reconciling ? 'Progressing' : 'Succeeded',
      message: c.reconciling ? 'an execution is in progress' : '',
      observedGeneration: generation,
    });
    list = setCondition(list, {
      type: 'Stalled',
      status: c.stalled ? 'True' : 'False',
      reason: c.stalled?.[0] ?? 'NotStalled',
      message: c.stalled?.[1] ?? '',
      observedGeneration: generation,
    });
    return list;
  }

  private async patch(obj: T, fields: Record<string, unknown>, opts: { guarded?: boolean } = {}): Promise<T> {
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
