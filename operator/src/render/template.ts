/**
 * `$(date …)` templates, as GNU `date` prints them in the C locale, in UTC, from one instant per
 * execution. A small parser, never a shell: `$(date)`, `$(date +FORMAT)`, `$(date -u)`,
 * `$(date -u +FORMAT)`; `$$(` is a literal `$(`; anything else inside `$(…)`, or an unknown conversion,
 * is a TemplateError that says where.
 */
export class TemplateError extends Error {}

const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const months = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const pad = (n: number, width = 2, fill = '0') => String(n).padStart(width, fill);

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

/** ISO 8601 week-based year and week number. */
function isoWeek(d: Date): { year: number; week: number } {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return { year: t.getUTCFullYear(), week: Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7) };
}

const conversions: Record<string, (d: Date) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  C: (d) => pad(Math.floor(d.getUTCFullYear() / 100)),
  y: (d) => pad(d.getUTCFullYear() % 100),
  m: (d) => pad(d.getUTCMonth() + 1),
  d: (d) => pad(d.getUTCDate()),
  e: (d) => pad(d.getUTCDate(), 2, ' '),
  H: (d) => pad(d.getUTCHours()),
  k: (d) => pad(d.getUTCHours(), 2, ' '),
  I: (d) => pad(d.getUTCHours() % 12 || 12),
  l: (d) => pad(d.getUTCHours() % 12 || 12, 2, ' '),
  M: (d) => pad(d.getUTCMinutes()),
  S: (d) => pad(d.getUTCSeconds()),
  N: (d) => pad(d.getUTCMilliseconds() * 1_000_000, 9),
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  P: (d) => (d.getUTCHours() < 12 ? 'am' : 'pm'),
  j: (d) => pad(dayOfYear(d), 3),
  a: (d) => (days[d.getUTCDay()] as string).slice(0, 3),
  A: (d) => days[d.getUTCDay()] as string,
  b: (d) => (months[d.getUTCMonth()] as string).slice(0, 3),
  h: (d) => (months[d.getUTCMonth()] as string).slice(0, 3),
  B: (d) => months[d.getUTCMonth()] as string,
  u: (d) => String(d.getUTCDay() || 7),
  w: (d) => String(d.getUTCDay()),
  V: (d) => pad(isoWeek(d).week),
  G: (d) => String(isoWeek(d).year),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  Z: () => 'UTC',
  z: () => '+0000',
  n: () => '\n',
  t: () => '\t',
  '%': () => '%',
  F: (d) => strftime('%Y-%m-%d', d),
  T: (d) => strftime('%H:%M:%S', d),
  D: (d) => strftime('%m/%d/%y', d),
  R: (d) => strftime('%H:%M', d),
  r: (d) => strftime('%I:%M:%S %p', d),
  c: (d) => strftime('%a %b %e %H:%M:%S %Y', d),
  x: (d) => strftime('%m/%d/%y', d),
  X: (d) => strftime('%H:%M:%S', d),
};

export const supportedConversions = Object.keys(conversions);

/** strftime in UTC and the C locale. */
export function strftime(format: string, d: Date): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i] as string;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const conv = format[++i];
    const fn = conv === undefined ? undefined : conversions[conv];
    if (!fn) {
      throw new TemplateError(
        conv === undefined
          ? "the format ends with a lone '%'"
          : `unknown conversion '%${conv}' in date format '${format}'`,
      );
    }
    out += fn(d);
  }
  return out;
}

/** What `$(date)` prints: `Tue Nov 24 16:14:58 UTC 2026`. */
const defaultFormat = '%a %b %e %H:%M:%S %Z %Y';

function evaluate(command: string, instant: Date): string {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'date') {
    throw new TemplateError(`'$(${command})' is not supported: only $(date), $(date +FORMAT), $(date -u +FORMAT)`);
  }
  let rest = command.trim().slice(4).trim();
  if (rest.startsWith('-u') || rest.startsWith('--utc')) rest = rest.replace(/^(-u|--utc)\s*/, '');
  if (rest === '') return strftime(defaultFormat, instant);
  // A quoted format is what a shell user writes: $(date '+%Y %m').
  const quoted = /^(['"])(\+.*)\1$/.exec(rest);
  const format = quoted ? quoted[2] : rest;
  if (!format?.startsWith('+')) {
    throw new TemplateError(`'$(${command})': the format must start with '+', as in $(date +%Y%m%d)`);
  }
  return strftime(format.slice(1), instant);
}

/** Expands every `$(…)` of `text` at `instant`. */
export function expandTemplate(text: string, instant: Date): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$$(', i)) {
      out += '$(';
      i += 3;
      continue;
    }
    if (text.startsWith('$(', i)) {
      const end = text.indexOf(')', i + 2);
      if (end < 0) throw new TemplateError(`'$(' at position ${i} is not closed by ')'`);
      out += evaluate(text.slice(i + 2, end), instant);
      i = end + 1;
      continue;
    }
    out += text[i];
    i++;
  }
  return out;
}
