import assert from 'node:assert/strict';
import { type Condition, findCondition, isTrue, setCondition } from '../../src/runtime/conditions.ts';

describe('conditions (metav1.Condition conventions)', () => {
  const t0 = new Date('2026-11-30T10:00:00.700Z');
  const t1 = new Date('2026-11-30T10:05:00Z');
  const ready = (status: Condition['status'], reason: string, message = '') => ({
    type: 'Ready',
    status,
    reason,
    message,
    observedGeneration: 1,
  });

  it('stamps a new condition with the time in whole seconds, and keeps the others in order', () => {
    const stalled: Condition = { ...ready('False', 'NotStalled'), type: 'Stalled', lastTransitionTime: 'earlier' };
    const list = setCondition([stalled], ready('Unknown', 'Progressing'), t0);
    assert.deepEqual(list, [
      stalled,
      { ...ready('Unknown', 'Progressing'), lastTransitionTime: '2026-11-30T10:00:00Z' },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, whatever the reason or message do; moves it on a change', () => {
    const first = setCondition(undefined, ready('False', 'ResourceNotFound', 'retry 1'), t0);
    const same = setCondition(first, { ...ready('False', 'Timeout', 'retry 2'), observedGeneration: 2 }, t1);
    assert.equal(same.length, 1, 'replaced, not added');
    assert.deepEqual(same[0], {
      ...ready('False', 'Timeout', 'retry 2'),
      observedGeneration: 2,
      lastTransitionTime: '2026-11-30T10:00:00Z',
    });
    const changed = setCondition(same, ready('True', 'Committed'), t1);
    assert.equal(changed[0]?.lastTransitionTime, '2026-11-30T10:05:00Z');
    assert.equal(first[0]?.reason, 'ResourceNotFound', 'the list given is not modified');
  });

  it('finds a condition by type and tells whether it is True', () => {
    const list = setCondition(setCondition(undefined, ready('True', 'Committed'), t0), {
      ...ready('False', 'NotStalled'),
      type: 'Stalled',
    });
    assert.equal(findCondition(list, 'Stalled')?.reason, 'NotStalled');
    assert.equal(findCondition(list, 'Reconciling'), undefined);
    assert.equal(findCondition(undefined, 'Ready'), undefined);
    assert.deepEqual(
      [isTrue(list, 'Ready'), isTrue(list, 'Stalled'), isTrue(undefined, 'Ready')],
      [true, false, false],
    );
  });
});
