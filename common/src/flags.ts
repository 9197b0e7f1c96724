/**
 * Command-line flags as both processes take them: `--name=value`, each also settable in the
 * environment as `<PREFIX><NAME>` (upper case, `-` as `_`), a flag on the command line winning over the
 * environment; and the values they share, such as listen addresses, durations and log levels. Both
 * processes read their flags with this, so the two read them the same way.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from './duration.ts';
import type { Level } from './logger.ts';

export type FlagSpec = Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean }>;

/**
 * The value of each flag: the command line's, else the environment's, else the default. A flag given on
 * the command line wins even when it repeats the default (`--leader-elect=false` over
 * GCO_LEADER_ELECT=true). Booleans take `--name`, `--no-name`, `--name=true` and `--name=false`, as Go's
 * flag package and controller-runtime's users write them; the environment takes `true` or `false`.
 */
export function readFlags<F extends FlagSpec>(
  spec: F,
  argv: string[],
  env: NodeJS.ProcessEnv,
  envPrefix: string,
): { string(name: keyof F & string): string; boolean(name: keyof F & string): boolean } {
  // No defaults given to parseArgs: undefined then means "not on the command line".
  const options = Object.fromEntries(Object.entries(spec).map(([name, { type }]) => [name, { type }]));
  const { values } = parseArgs({
    args: argv.map((arg) => booleanAssignment(spec, arg)),
    options,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  const parsed = values as Record<string, string | boolean | undefined>;
  const get = (name: keyof F & string): string | boolean => {
    const given = parsed[name];
    if (given !== undefined) return given;
    const flag = spec[name] as F[string];
    const variable = `${envPrefix}${name.toUpperCase().replaceAll('-', '_')}`;
    const fromEnv = env[variable];
    if (fromEnv === undefined || fromEnv === '') return flag.default;
    if (flag.type === 'string') return fromEnv;
    if (fromEnv !== 'true' && fromEnv !== 'false') {
      throw new Error(`${variable}: expected true or false, got ${JSON.stringify(fromEnv)}`);
    }
    return fromEnv === 'true';
  };
  return { string: (name) => String(get(name)), boolean: (name) => get(name) === true };
}

/** `--name=true` / `--name=false` of a boolean flag as parseArgs takes them: `--name` / `--no-name`. */
function booleanAssignment(spec: FlagSpec, arg: string): string {
  const m = /^--([^=]+)=(.*)$/.exec(arg);
  if (!m || spec[m[1] as string]?.type !== 'boolean') return arg;
  if (m[2] === 'true') return `--${m[1]}`;
  if (m[2] === 'false') return `--no-${m[1]}`;
  throw new Error(`--${m[1]}: expected true or false, got ${JSON.stringify(m[2])}`);
}

export interface ListenAddress {
  /** undefined: every interface (Node listens on :: where IPv6 exists, which takes IPv4 too, else 0.0.0.0). */
  host: string | undefined;
  port: number;
}

/**
 * `[host]:port`, as controller-runtime's address flags take it (`:8080`, `127.0.0.1:8080`,
 * `[::1]:8080`); `0` turns the listener off when `allowOff` (the result is then undefined).
 */
export function parseListenAddress(flag: string, text: string, opts: { allowOff: true }): ListenAddress | undefined;
export function parseListenAddress(flag: string, text: string, opts?: { allowOff?: false }): ListenAddress;
export function parseListenAddress(
  flag: string,
  text: string,
  opts: { allowOff?: boolean } = {},
): ListenAddress | undefined {
  if (opts.allowOff && text === '0') return undefined;
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535)
    throw new Error(
      `--${flag}: expected [host]:port, such as :8080${opts.allowOff ? ', or 0 for none' : ''}; got ${JSON.stringify(text)}`,
    );
  // An IPv6 host is written in brackets, as Go's flags take it; Node wants it bare.
  return { host: m[1]?.replace(/^\[(.*)\]$/, '$1') || undefined, port: Number(m[2]) };
}

export function parseLogLevel(text: string): Level {
  if (!['debug', 'info', 'warn', 'error'].includes(text))
    throw new Error('--log-level: one of debug, info, warn, error');
  return text as Level;
}

/**
 * A duration flag in whole milliseconds, in Go's notation (duration.ts: `500ms`, `30s`, `1h30m`), as
 * controller-runtime's flags take durations; `0` alone turns the setting off when `allowOff`.
 */
export function parseDurationFlag(flag: string, text: string, opts: { allowOff?: boolean } = {}): number {
  const trimmed = text.trim();
  if (opts.allowOff && trimmed === '0') return 0;
  const ms = parseDuration(trimmed);
  if (ms === undefined) {
    throw new Error(
      `--${flag}: ${JSON.stringify(text)} is not a duration (examples: 500ms, 30s, 10m, 1h30m${opts.allowOff ? '; 0: off' : ''})`,
    );
  }
  return Math.round(ms);
}
