import assert from 'node:assert/strict';
import { nextTick, parseEvery, scheduleError } from '../../src/controllers/execution/schedule.ts';

describe('schedules (spec.schedule)', () => {
  const at = new Date('2026-11-30T10:00:00Z');

  it('counts @every from the previous tick, with Go duration units', () => {
    assert.equal(parseEvery('@every 5s'), 5000);
    assert.equal(parseEvery('@every 1h30m'), 5_400_000);
    assert.equal(parseEvery('@every 1.5m'), 90_000);
    assert.equal(nextTick('@every 5s', at).toISOString(), '2026-11-30T10:00:05.000Z');
  });

  it('ticks cron expressions and macros in UTC', () => {
    assert.equal(nextTick('0 */6 * * *', at).toISOString(), '2026-11-30T12:00:00.000Z');
    assert.equal(nextTick('@daily', at).toISOString(), '2026-12-01T00:00:00.000Z');
    assert.equal(nextTick('0 9 * * MON', at).toISOString(), '2026-12-07T09:00:00.000Z');
  });

  it('says why a schedule cannot run: below the minimum interval, malformed, or never due', () => {
    assert.equal(scheduleError(undefined), undefined);
    assert.equal(scheduleError('@every 5s'), undefined);
    assert.match(scheduleError('@every 0s') ?? '', /not a valid @every duration/);
    assert.match(scheduleError('@every 4s') ?? '', /shorter than the minimum interval of 5s/);
    assert.match(scheduleError('@every 5 s') ?? '', /not a valid @every duration/);
    // Admitted by the CRD's pattern (each field is in range), but February has no 31st.
    assert.match(scheduleError('0 0 31 2 *') ?? '', /no next run/);
  });
});
