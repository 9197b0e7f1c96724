/**
 * What status says at each step of an execution, as merge patches of the API's status (pure: the engine
 * writes them). The steps: started (Ready=Unknown, Reconciling), retrying (Ready=False with the reason,
 * still Reconciling), stalled (Ready=False, Stalled=True), succeeded (Ready=True); an attempt that ends
 * the execution is finished into the history. Conditions follow kstatus, as Flux sets them.
 */
import { annotations } from '../../api/v1/annotations.ts';
import { historyMessageMaxLength, limits } from '../../api/v1/limits.ts';
import type { ActiveExecution, Condition, ExecutionRecord, Phases } from '../../api/v1/status.ts';
import { setCondition } from '../../runtime/conditions.ts';
import { kubeTime } from '../../runtime/time.ts';
import type { Executable, Outcome, StatusPatch } from './executable.ts';
import type { ExecutionFailure } from './failure.ts';
import type { Due } from './triggers.ts';

export interface ConditionSummary {
  ready: ['True' | 'False' | 'Unknown', string, string];
  reconciling: boolean;
  /** Reason and message when stalled. */
  stalled?: [string, string];
}

/** Ready, Reconciling and Stalled, each set (lastTransitionTime kept where its status stays). */
export function kstatusConditions(obj: Executable, c: ConditionSummary): Condition[] {
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

/**
 * An execution starts. Recorded before anything is written to git, so that a retry or a restarted
 * operator continues this same execution (same id, same template instant).
 */
export function started(obj: Executable, execution: ActiveExecution, due: Due, phases: Phases): StatusPatch {
  return {
    // A merge patch: fields of an abandoned execution (its backoff, its trace) are cleared explicitly.
    activeExecution: { notBefore: null, traceparent: null, ...execution },
    phase: phases.running,
    lastHandledReconcileAt:
      obj.metadata.annotations?.[annotations.reconcileRequestedAt] ?? obj.status?.lastHandledReconcileAt,
    // The version that triggered a SecretChanged execution, so that one that fails before reading the
    // Secret does not trigger itself again; an attempt that reads it records what it read.
    ...(due.secretVersion ? { authSecretResourceVersion: due.secretVersion } : {}),
    ...(due.tick ? { lastScheduledTime: kubeTime(due.tick) } : {}),
    conditions: kstatusConditions(obj, {
      ready: ['Unknown', 'Progressing', `Execution ${execution.id} (${execution.trigger}) is running`],
      reconciling: true,
    }),
  };
}

/** An attempt failed and the execution will be retried after `delayMs`. */
export function retrying(
  obj: Executable,
  attempt: ActiveExecution,
  failure: ExecutionFailure,
  delayMs: number,
  now: Date,
): StatusPatch {
  return {
    activeExecution: { ...attempt, notBefore: kubeTime(new Date(now.getTime() + delayMs)) },
    retryCount: attempt.attempts,
    message: failure.message,
    conditions: kstatusConditions(obj, {
      ready: [
        'False',
        failure.reason,
        `${failure.message} (retry ${attempt.attempts} in ${Math.round(delayMs / 1000)}s)`,
      ],
      reconciling: true,
    }),
  };
}

/** The resource stalls: nothing more runs until its spec, its Secret or its reconcile request changes. */
export function stalled(obj: Executable, reason: string, message: string, phases: Phases): StatusPatch {
  return {
    phase: phases.failed,
    message,
    conditions: kstatusConditions(obj, {
      ready: ['False', reason, message],
      reconciling: false,
      stalled: [reason, message],
    }),
  };
}

/** The execution succeeded. */
export function succeeded(obj: Executable, attempt: ActiveExecution, outcome: Outcome): StatusPatch {
  return {
    phase: outcome.phase,
    message: outcome.message,
    retryCount: attempt.attempts - 1,
    ...(outcome.commitSHA ? { commitSHA: outcome.commitSHA, shortCommitSHA: outcome.commitSHA.slice(0, 7) } : {}),
    ...(outcome.branch ? { branch: outcome.branch } : {}),
    skippedReferences: outcome.skipped,
    ...outcome.status,
    conditions: kstatusConditions(obj, {
      ready: ['True', outcome.result, outcome.message],
      reconciling: false,
    }),
  };
}

export type HistoryOutcome = Pick<ExecutionRecord, 'result' | 'reason' | 'commitSHA' | 'message'>;

/** The execution ends: it leaves activeExecution for the history (newest first), the next tick is set. */
export function finished(
  obj: Executable,
  execution: ActiveExecution,
  outcome: HistoryOutcome,
  now: Date,
  nextTick: Date | undefined,
): StatusPatch {
  const entry: ExecutionRecord = {
    id: execution.id,
    trigger: execution.trigger,
    startTime: execution.instant,
    completionTime: kubeTime(now),
    attempts: execution.attempts,
    ...(Object.fromEntries(Object.entries(outcome).filter(([, v]) => v !== undefined && v !== '')) as HistoryOutcome),
  };
  if (typeof entry.message === 'string') entry.message = entry.message.slice(0, historyMessageMaxLength);
  return {
    activeExecution: null,
    observedGeneration: execution.generation ?? obj.metadata.generation,
    lastExecutionTime: kubeTime(now),
    nextScheduledTime: nextTick ? kubeTime(nextTick) : null,
    executionHistory: [entry, ...(obj.status?.executionHistory ?? [])].slice(0, limits.historyEntries),
  };
}
