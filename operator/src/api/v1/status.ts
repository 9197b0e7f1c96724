/**
 * The status both kinds share, as the operator reads and writes it: condition types, execution results,
 * triggers and phases. The status types come from the schemas (schema/status.ts), the one source of
 * both the CRD and the types.
 */

export type { ActiveExecution, Condition, ExecutionRecord, ExecutionStatus } from './schema/status.ts';

export const conditionTypes = ['Ready', 'Reconciling', 'Stalled'] as const;
export type ConditionType = (typeof conditionTypes)[number];

/** How an execution ended: what a success did, as each kind names it, or Failed. */
export const executionResults = ['Committed', 'UpToDate', 'PullRequestOpened', 'PullRequestUpdated', 'Failed'] as const;
export type ExecutionResult = (typeof executionResults)[number];
/** The results of an execution that succeeded. */
export type SuccessResult = Exclude<ExecutionResult, 'Failed'>;

/** What starts an execution. */
export const triggers = ['Generation', 'Schedule', 'Request', 'SecretChanged'] as const;
export type Trigger = (typeof triggers)[number];

/**
 * The phases of a kind, by role: `succeeded` is the kind's word for a success (Committed, Created). The
 * CRD's enum lists them in this order.
 */
export interface Phases {
  pending: string;
  running: string;
  succeeded: string;
  failed: string;
}

export function phaseNames<const P extends Phases>(phases: P): Array<P[keyof Phases]> {
  return [phases.pending, phases.running, phases.succeeded, phases.failed];
}
