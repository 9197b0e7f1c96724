/**
 * Durations as Go's time.ParseDuration writes them (`500ms`, `30s`, `1h30m`, `1.5h`), which users of
 * Kubernetes tools write in flags and in `@every` schedules (robfig/cron, Flux): the operator's and the
 * sidecar's duration flags, `spec.schedule`'s `@every`, and the CRD's CEL rule for it, from one grammar.
 */
const units = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** One or more number-and-unit parts, unanchored (the CRD's `@every` pattern embeds it). */
export const durationPattern = '([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+';
const whole = new RegExp(`^${durationPattern}$`, 'u');
const part = /([0-9]+(?:[.][0-9]+)?)(ns|us|µs|ms|s|m|h)/gu;

/** The duration in milliseconds (fractional below 1 ms), or undefined when `text` is not one. */
export function parseDuration(text: string): number | undefined {
  if (!whole.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(part)) total += Number(m[1]) * units[m[2] as keyof typeof units];
  return total;
}
