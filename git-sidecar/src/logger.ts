/**
 * Structured JSON log lines on stderr. Every field passes through the redactor, so a credential that
 * somehow reached a message is still never written.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(opts: {
  level: Level;
  component: string;
  redact?: (text: string) => string;
  write?: (line: string) => void;
}): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const redact = opts.redact ?? ((t: string) => t);
  const log =
    (level: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (order[level] < order[opts.level]) return;
      const record = { time: new Date().toISOString(), level, component: opts.component, message, ...fields };
      write(`${redact(JSON.stringify(record, (_k, v) => (v instanceof Error ? v.message : v)))}\n`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
