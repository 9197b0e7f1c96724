/**
 * `spec.schedule`: the next tick after a given time, in UTC. Cron expressions and the @hourly-style
 * macros are parsed by croner; `@every <duration>` (Flux and robfig/cron users write it) is counted from
 * the previous tick.
 */
import { parseDuration } from '@gco/common/duration';
import { Cron } from 'croner';
import { minimumEvery } from '../../api/v1/limits.ts';

/** The CRD refuses shorter `@every` intervals at admission; this holds schedules it never checked. */
const minimumEveryMs = minimumEvery.seconds * 1000;

export function parseEvery(schedule: string): number | undefined {
  const m = /^@every\s+(.+)$/.exec(schedule.trim());
  if (!m) return undefined;
  const total = parseDuration(m[1] as string);
  if (total === undefined || total <= 0) throw new Error(`'${schedule}' is not a valid @every duration`);
  if (total < minimumEveryMs) {
    throw new Error(`'${schedule}' is shorter than the minimum interval of ${minimumEveryMs / 1000}s`);
  }
  return total;
}

/** Why a schedule cannot run, or undefined when it can (or there is none). */
export function scheduleError(schedule: string | undefined): string | undefined {
  if (!schedule) return undefined;
  try {
    nextTick(schedule, new Date());
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The first tick strictly after `after`. */
export function nextTick(schedule: string, after: Date): Date {
  const every = parseEvery(schedule);
  if (every !== undefined) return new Date(after.getTime() + every);
  const next = new Cron(schedule.trim(), { timezone: 'UTC', paused: true }).nextRun(after);
  if (!next) throw new Error(`'${schedule}' has no next run`);
  return next;
}
