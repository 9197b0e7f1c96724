/**
 * The status both kinds share, as schemas: conditions, phase, the execution in progress and the history
 * of the last ones. The execution engine reads and writes exactly the types derived here; each kind adds
 * its own fields (a pull request's number and state) and its phase names.
 */
import Type, { type Static, type TObject } from 'typebox';
import { historyMessageMaxLength, limits } from '../limits.ts';
import { executionResults } from '../status.ts';
import { StringEnum, Time } from './builders.ts';

/** metav1.Condition, as Kubernetes defines it. */
export const Condition = Type.Object({
  type: Type.String({ description: 'Ready, Reconciling or Stalled (kstatus).', minLength: 1, maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
  observedGeneration: Type.Optional(
    Type.Integer({ description: 'The generation the condition was set for.', minimum: 0, format: 'int64' }),
  ),
  lastTransitionTime: Time('When the condition last changed status.'),
  reason: Type.String({
    description: 'CamelCase reason, such as Committed or AuthenticationFailed.',
    minLength: 1,
    maxLength: 1024,
  }),
  message: Type.String({ description: 'Human-readable detail.', maxLength: 32_768 }),
});
export type Condition = Static<typeof Condition>;

const SkippedReference = Type.Object({
  apiVersion: Type.String({ description: 'API version of the skipped object.' }),
  kind: Type.String({ description: 'Kind of the skipped object.' }),
  namespace: Type.Optional(Type.String({ description: 'Namespace of the skipped object.' })),
  name: Type.String({ description: 'Name of the skipped object.' }),
  reason: Type.String({ description: 'Why it was skipped: ResourceNotFound or FieldNotFound.' }),
  message: Type.Optional(Type.String({ description: 'Detail.' })),
});

const ExecutionRecord = Type.Object({
  id: Type.String({ description: 'Execution id; also the Gco-Execution trailer of its commit.' }),
  trigger: Type.Optional(
    Type.String({ description: 'What started it: Generation, Schedule, Request or SecretChanged.' }),
  ),
  startTime: Time('When the execution started (its instant, used by the templates).'),
  completionTime: Type.Optional(Time('When it ended.')),
  result: StringEnum(executionResults, { description: 'How it ended.' }),
  reason: Type.Optional(Type.String({ description: 'Reason of the outcome.' })),
  commitSHA: Type.Optional(Type.String({ description: 'The commit it made or found.' })),
  attempts: Type.Optional(Type.Integer({ description: 'Attempts it took.', minimum: 0 })),
  message: Type.Optional(Type.String({ description: 'Detail.', maxLength: historyMessageMaxLength })),
});
export type ExecutionRecord = Static<typeof ExecutionRecord>;

const ActiveExecution = Type.Object(
  {
    id: Type.String({ description: 'Execution id.' }),
    trigger: Type.String({ description: 'Generation, Schedule, Request or SecretChanged.' }),
    instant: Time('The instant its templates use; kept across retries so a retry renders the same files.'),
    attempts: Type.Integer({ description: 'Attempts made so far.', minimum: 0 }),
    generation: Type.Optional(Type.Integer({ description: 'The metadata.generation it renders.', format: 'int64' })),
    notBefore: Type.Optional(Time('The next attempt does not start before this (backoff, a rate limit reset).')),
    traceparent: Type.Optional(
      Type.String({
        description:
          "W3C trace context of the execution's first attempt, so that its retries join its trace (only when tracing is on).",
        maxLength: 256,
      }),
    ),
  },
  {
    description: 'The execution in progress, kept so that a retry (or an operator restart) continues it exactly once.',
  },
);
export type ActiveExecution = Static<typeof ActiveExecution>;

/** The status fields of every kind, in the order the CRD lists them. */
export function executionStatusFields<const P extends readonly string[]>(phases: P) {
  return {
    observedGeneration: Type.Optional(Type.Integer({ description: 'The generation last acted on.', format: 'int64' })),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: 'Ready, Reconciling and Stalled, following the kstatus conventions.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        maxItems: 8,
      }),
    ),
    phase: Type.Optional(StringEnum(phases, { description: `${phases.join(', ')}.` })),
    message: Type.Optional(Type.String({ description: 'Outcome of the last execution, for humans.' })),
    commitSHA: Type.Optional(Type.String({ description: 'The commit the last successful execution made or found.' })),
    shortCommitSHA: Type.Optional(Type.String({ description: 'The first 7 characters of commitSHA.' })),
    branch: Type.Optional(
      Type.String({ description: 'The branch written to (resolved when spec left it to the default).' }),
    ),
    lastExecutionTime: Type.Optional(Time('When the last execution ended.')),
    nextScheduledTime: Type.Optional(Time('Next schedule tick, when spec.schedule is set.')),
    lastScheduledTime: Type.Optional(Time('The schedule tick last executed.')),
    lastHandledReconcileAt: Type.Optional(
      Type.String({ description: 'The value of gco.galos.one/reconcile-requested-at last acted on.' }),
    ),
    retryCount: Type.Optional(Type.Integer({ description: 'Retries of the current or last execution.', minimum: 0 })),
    authSecretResourceVersion: Type.Optional(
      Type.String({ description: 'resourceVersion of the auth Secret last used: a change re-runs the resource.' }),
    ),
    skippedReferences: Type.Optional(
      Type.Array(SkippedReference, { description: 'Optional references skipped by the last execution.' }),
    ),
    activeExecution: Type.Optional(ActiveExecution),
    executionHistory: Type.Optional(
      Type.Array(ExecutionRecord, {
        description: 'The last executions, newest first.',
        maxItems: limits.historyEntries,
      }),
    ),
  };
}

/**
 * The status every kind shares, as the execution engine reads it: each kind's status is assignable to
 * it (its phase is one of the kind's names).
 */
export type ExecutionStatus = Static<TObject<ReturnType<typeof executionStatusFields<readonly string[]>>>>;
