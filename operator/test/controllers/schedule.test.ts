import assert from 'node:assert/strict';
import { nextTick, parseEvery, scheduleError } from '../../src/controllers/execution/schedule.ts';

describe('schedules (spec.schedule)', () => {
  const at = new Date('2026-11-30T10:00:00Z');
  const next = (schedule: string, after = at) => nextTick(schedule, after).toISOString();

  it('counts @every from the previous tick, with Go duration units', () => {
    assert.equal(parseEvery('@every 5s'), 5000);
    assert.equal(parseEvery('@every 1h30m'), 5_400_000);
    assert.equal(parseEvery('@every 1.5m'), 90_000);
    assert.equal(parseEvery('@every 5000ms'), 5000);
    assert.equal(parseEvery('0 */6 * * *'), undefined, 'not an @every schedule');
    assert.equal(next('@every 5s'), '2026-11-30T10:00:05.000Z');
    assert.equal(next('@every 1h30m', new Date('2026-11-30T23:45:00.250Z')), '2026-12-01T01:15:00.250Z');
    assert.equal(next(' @every 5s '), '2026-11-30T10:00:05.000Z', 'surrounding blanks are ignored');
  });

  it('ticks cron expressions and macros in UTC', () => {
    assert.equal(next('0 */6 * * *'), '2026-11-30T12:00:00.000Z');
    assert.equal(next('@daily'), '2026-12-01T00:00:00.000Z');
    assert.equal(next('0 9 * * MON'), '2026-12-07T09:00:00.000Z');
    assert.equal(next('*/15 9-17 * * 1-5'), '2026-11-30T10:15:00.000Z');
    assert.equal(next('0 0 1 jan,jul *'), '2027-01-01T00:00:00.000Z');
    assert.equal(next('0 0 29 2 *'), '2028-02-29T00:00:00.000Z', 'the next leap day');
  });

  it('takes every macro and day-of-week spelling the CRD admits, as Vixie cron reads them', () => {
    const macros: Array<[string, string]> = [
      ['@hourly', '2026-11-30T11:00:00.000Z'],
      ['@daily', '2026-12-01T00:00:00.000Z'],
      ['@midnight', '2026-12-01T00:00:00.000Z'],
      ['@weekly', '2026-12-06T00:00:00.000Z'],
      ['@monthly', '2026-12-01T00:00:00.000Z'],
      ['@yearly', '2027-01-01T00:00:00.000Z'],
      ['@annually', '2027-01-01T00:00:00.000Z'],
    ];
    for (const [macro, tick] of macros) assert.equal(next(macro), tick, macro);
    // Sunday is 0 and 7; names in any case (the CRD's pattern is case-insensitive).
    for (const sunday of ['0 9 * * 0', '0 9 * * 7', '0 9 * * SUN', '0 9 * * sun']) {
      assert.equal(next(sunday), '2026-12-06T09:00:00.000Z', sunday);
    }
  });

  it('ticks strictly after the given time: a tick exactly now is the previous one', () => {
    assert.equal(next('0 */6 * * *', new Date('2026-11-30T12:00:00Z')), '2026-11-30T18:00:00.000Z');
    assert.equal(next('0 */6 * * *', new Date('2026-11-30T11:59:59.999Z')), '2026-11-30T12:00:00.000Z');
    assert.equal(next('@every 5s', new Date('2026-11-30T10:00:05Z')), '2026-11-30T10:00:10.000Z');
  });

  it('holds @every to the minimum of 5 s, in any unit', () => {
    for (const ok of ['@every 5s', '@every 5000ms', '@every 0.1m', '@every 1h']) {
      assert.equal(scheduleError(ok), undefined, ok);
    }
    for (const short of ['@every 4s', '@every 4999ms', '@every 4.999s', '@every 1s999ms']) {
      assert.match(scheduleError(short) ?? '', /shorter than the minimum interval of 5s/, short);
    }
  });

  it('says why a schedule cannot run: below the minimum interval, malformed, or never due', () => {
    assert.equal(scheduleError(undefined), undefined);
    assert.equal(scheduleError(''), undefined, 'no schedule');
    assert.equal(scheduleError('@every 5s'), undefined);
    assert.match(scheduleError('@every 0s') ?? '', /not a valid @every duration/);
    assert.match(scheduleError('@every 4s') ?? '', /shorter than the minimum interval of 5s/);
    assert.match(scheduleError('@every 5 s') ?? '', /not a valid @every duration/);
    assert.match(scheduleError('@every -5s') ?? '', /not a valid @every duration/);
    assert.match(scheduleError('@every 5') ?? '', /not a valid @every duration/, 'a unit is required');
    // Admitted by the CRD's pattern (each field is in range), but never due.
    for (const never of ['0 0 31 2 *', '0 0 30 2 *', '0 0 31 4 *', '0 0 31 jun *']) {
      assert.match(scheduleError(never) ?? '', /no next run/, never);
      assert.throws(() => nextTick(never, at), /no next run/);
    }
    // Refused by the CRD; an object admitted before a CRD upgrade may still hold one.
    for (const malformed of ['not a cron', '* * * *', '61 * * * *', '@every']) {
      assert.ok(scheduleError(malformed), `${malformed} is reported`);
    }
  });
});
