/**
 * What starts an execution, in this order: a new generation (a spec change), a new value of the
 * reconcile-requested-at annotation, a changed auth Secret, a schedule tick. A Stalled resource runs no
 * schedule ticks until one of the others comes.
 */
import { annotations } from '../../api/v1/annotations.ts';
import type { Trigger } from '../../api/v1/status.ts';
import { type Action, done, requeueAfter } from '../../runtime/controller.ts';
import { kubeTime } from '../../runtime/time.ts';
import type { Executable, SecretVersions } from './executable.ts';
import { nextTick } from './schedule.ts';

export interface Due {
  trigger: Trigger;
  /** The schedule tick it executes. */
  tick?: Date;
  /** The Secret version that started it. */
  secretVersion?: string;
}

/** The trigger of a new execution, if one is due now. */
export async function dueTrigger<T extends Executable>(
  obj: T,
  now: Date,
  secretVersions: SecretVersions<T>,
  signal: AbortSignal,
): Promise<Due | undefined> {
  const status = obj.status ?? {};
  if (status.observedGeneration !== obj.metadata.generation) return { trigger: 'Generation' };
  const requested = obj.metadata.annotations?.[annotations.reconcileRequestedAt];
  if (requested && requested !== status.lastHandledReconcileAt) return { trigger: 'Request' };
  const secretVersion = await changedSecretVersion(obj, secretVersions, signal);
  if (secretVersion !== undefined) return { trigger: 'SecretChanged', secretVersion };
  if (isStalled(obj)) return undefined;
  let tick = nextScheduled(obj, now);
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
async function changedSecretVersion<T extends Executable>(
  obj: T,
  secretVersions: SecretVersions<T>,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (!obj.spec.auth?.secretName) return undefined;
  const used = obj.status?.authSecretResourceVersion ?? '';
  if (secretVersions.cached(obj) === used) return undefined;
  const live = await secretVersions.live(obj, signal);
  return live !== '' && live !== used ? live : undefined;
}

export function isStalled(obj: Executable): boolean {
  return (obj.status?.conditions ?? []).some((c) => c.type === 'Stalled' && c.status === 'True');
}

/** The schedule's next tick after the last one executed (or after creation). */
export function nextScheduled(obj: Executable, now: Date): Date | undefined {
  const schedule = obj.spec.schedule;
  if (!schedule) return undefined;
  const from = obj.status?.lastScheduledTime ?? obj.metadata.creationTimestamp ?? kubeTime(now);
  return nextTick(schedule, new Date(from));
}

/** Reconcile again at the next schedule tick; not at all without a schedule, or while stalled. */
export function untilNextTick(obj: Executable, now: Date): Action {
  const tick = nextScheduled(obj, now);
  if (!tick || isStalled(obj)) return done;
  return requeueAfter(Math.max(1000, tick.getTime() - now.getTime()));
}
