/**
 * Timestamps as Kubernetes writes them: metav1.Time (RFC 3339 in UTC, whole seconds: status times,
 * condition transitions, Events) and metav1.MicroTime (microseconds: a Lease's acquire and renew times).
 */

/** `2026-11-30T10:00:05Z`. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `2026-11-30T10:00:05.123000Z`: JavaScript has milliseconds, MicroTime wants six digits. */
export function kubeMicroTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}
