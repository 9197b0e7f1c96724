import assert from 'node:assert/strict';
import type { ActiveExecution, Condition, ExecutionStatus } from '../../src/api/v1/status.ts';
import { gitCommitPhases, type PullRequestStatus } from '../../src/api/v1/types.ts';
import type { Executable, Outcome } from '../../src/controllers/execution/executable.ts';
import { transient } from '../../src/controllers/execution/failure.ts';
import * as status from '../../src/controllers/execution/transitions.ts';

const now = new Date('2026-11-30T10:00:00Z');
const earlier = '2026-11-29T10:00:00Z';

function resource(st: ExecutionStatus = {}): Executable {
  return { metadata: { name: 'r', namespace: 'n', generation: 3, annotations: {} }, spec: {}, status: st };
}

const execution: ActiveExecution = {
  id: 'abc-1',
  trigger: 'Generation',
  instant: '2026-11-30T09:59:00Z',
  attempts: 2,
  generation: 3,
};

function condition(conditions: Condition[] | undefined, type: string) {
  const c = conditions?.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
}

describe('execution status transitions', () => {
  it('started: Ready Unknown and Reconciling, the trigger recorded, an abandoned backoff and trace cleared', () => {
    const patch = status.started(
      resource(),
      execution,
      { trigger: 'Schedule', tick: now, secretVersion: '42' },
      gitCommitPhases,
    );
    assert.deepEqual(patch.activeExecution, { notBefore: null, traceparent: null, ...execution });
    assert.equal(patch.phase, 'Running');
    assert.equal(patch.lastScheduledTime, '2026-11-30T10:00:00Z');
    assert.equal(patch.authSecretResourceVersion, '42');
    const ready = condition(patch.conditions ?? undefined, 'Ready');
    assert.deepEqual([ready.status, ready.reason], ['Unknown', 'Progressing']);
    assert.match(ready.message, /Execution abc-1 \(Generation\) is running/);
    assert.equal(condition(patch.conditions ?? undefined, 'Reconciling').status, 'True');
    assert.equal(condition(patch.conditions ?? undefined, 'Stalled').status, 'False');
    assert.ok(patch.conditions?.every((c) => c.observedGeneration === 3));
  });

  it('retrying: Ready False with the reason and when, the next attempt not before the delay', () => {
    const patch = status.retrying(resource(), execution, transient('GitUnavailable', 'no answer'), 10_000, now);
    assert.equal(patch.activeExecution?.notBefore, '2026-11-30T10:00:10Z');
    assert.equal(patch.retryCount, 2);
    const ready = condition(patch.conditions ?? undefined, 'Ready');
    assert.deepEqual(
      [ready.status, ready.reason, ready.message],
      ['False', 'GitUnavailable', 'no answer (retry 2 in 10s)'],
    );
    assert.equal(condition(patch.conditions ?? undefined, 'Reconciling').status, 'True');
    assert.equal(condition(patch.conditions ?? undefined, 'Stalled').status, 'False');
  });

  it("stalled: Ready False, Stalled True with the reason, the kind's failed phase", () => {
    const patch = status.stalled(resource(), 'InvalidSchedule', 'never due', gitCommitPhases);
    assert.equal(patch.phase, 'Failed');
    const stalled = condition(patch.conditions ?? undefined, 'Stalled');
    assert.deepEqual([stalled.status, stalled.reason, stalled.message], ['True', 'InvalidSchedule', 'never due']);
    assert.equal(condition(patch.conditions ?? undefined, 'Ready').status, 'False');
    assert.equal(condition(patch.conditions ?? undefined, 'Reconciling').status, 'False');
  });

  it("succeeded: Ready True with the result, the short SHA, the kind's own fields", () => {
    const outcome: Outcome<PullRequestStatus> = {
      result: 'PullRequestOpened',
      phase: 'Created',
      message: 'opened #7',
      commitSHA: '0123456789abcdef',
      branch: 'head',
      skipped: [],
      status: { pullRequestNumber: 7, headBranch: null },
    };
    const patch = status.succeeded(resource(), execution, outcome);
    assert.equal(patch.shortCommitSHA, '0123456');
    assert.equal(patch.retryCount, 1);
    assert.equal((patch as Record<string, unknown>).pullRequestNumber, 7);
    assert.equal((patch as Record<string, unknown>).headBranch, null);
    const ready = condition(patch.conditions ?? undefined, 'Ready');
    assert.deepEqual([ready.status, ready.reason, ready.message], ['True', 'PullRequestOpened', 'opened #7']);
  });

  it('keeps lastTransitionTime of a condition whose status does not change', () => {
    const before = status.stalled(resource(), 'A', 'a', gitCommitPhases).conditions ?? [];
    const aged = before.map((c) => ({ ...c, lastTransitionTime: earlier }));
    const after = status.stalled(resource({ conditions: aged }), 'B', 'b', gitCommitPhases).conditions ?? [];
    assert.equal(condition(after, 'Stalled').lastTransitionTime, earlier);
    assert.equal(condition(after, 'Stalled').reason, 'B');
    const retried = status.retrying(resource({ conditions: aged }), execution, transient('X', 'x'), 1000, now);
    assert.notEqual(condition(retried.conditions ?? undefined, 'Stalled').lastTransitionTime, earlier);
  });

  it('finished: into the history, newest first, at most 10, long messages cut, empty fields left out', () => {
    const history = Array.from({ length: 10 }, (_, i) => ({
      id: `old-${i}`,
      startTime: earlier,
      result: 'Committed' as const,
    }));
    const patch = status.finished(
      resource({ executionHistory: history }),
      execution,
      { result: 'Failed', reason: 'RetriesExhausted', message: 'x'.repeat(5000), commitSHA: '' },
      now,
      undefined,
    );
    assert.equal(patch.activeExecution, null);
    assert.equal(patch.observedGeneration, 3);
    assert.equal(patch.nextScheduledTime, null);
    assert.equal(patch.executionHistory?.length, 10);
    const [entry] = patch.executionHistory ?? [];
    assert.equal(entry?.id, 'abc-1');
    assert.equal(entry?.message?.length, 4096);
    assert.ok(entry && !('commitSHA' in entry));
    assert.equal(patch.executionHistory?.at(-1)?.id, 'old-8');
    const scheduled = status.finished(resource(), execution, { result: 'Committed' }, now, new Date(earlier));
    assert.equal(scheduled.nextScheduledTime, earlier);
  });
});
