/**
 * Command-line flags as both processes take them: `--name=value`, each also settable in the
 * environment as `<PREFIX><NAME>` (upper case, `-` as `_`), a flag on the command line winning over the
 * environment; and the values they share, such as listen addresses and log levels. The operator imports
 * this too, so the two read their flags the same way.
 */
import { parseArgs } from 'node:util';
import type { Level } from './logger.ts';

export type FlagSpec = Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean }>;

/** The value of each flag: the command line's, else the environment's, else the default. */
export function readFlags<F extends FlagSpec>(
  spec: F,
  argv: string[],
  env: NodeJS.ProcessEnv,
  envPrefix: string,
): { string(name: keyof F & string): string; boolean(name: keyof F & string): boolean } {
  const { values } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false });
  const parsed = values as Record<string, string | boolean | undefined>;
  const get = (name: keyof F & string): string | boolean => {
    const given = parsed[name];
    const flag = spec[name] as F[string];
    if (given !== undefined && given !== flag.default) return given;
    const fromEnv = env[`${envPrefix}${name.toUpperCase().replaceAll('-', '_')}`];
    if (fromEnv !== undefined) return flag.type === 'boolean' ? fromEnv === 'true' : fromEnv;
    return flag.default;
  };
  return { string: (name) => String(get(name)), boolean: (name) => get(name) === true };
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
