/**
 * Structured JSON log lines on stderr, one object a line. The whole line passes through the redactor,
 * so a credential that somehow reached a message or a field is still never written.
 *
 * Winston, so that both processes log through one pipeline that can take another transport (a file,
 * OTLP logs) without touching the call sites; the line itself is built by our own format because its
 * shape (field order, Errors as their message, redaction last) is part of what tests and log queries
 * rely on.
 *
 * trace_id/span_id come from a format that reads the active span, not from
 * @opentelemetry/instrumentation-winston: that instrumentation patches winston when winston is
 * loaded, and only if it was registered before. Our entry points import winston statically, so it is
 * loaded before any line of main runs; tried with Node 24, winston 3.19 and instrumentation-winston
 * 0.69, a statically imported winston never got the ids, even with
 * `--import @opentelemetry/instrumentation/hook.mjs` (a dynamic import after starting the SDK did).
 * Using it would take a separate `--import` preload that starts the SDK in every launcher; the format
 * needs nothing, and costs one context lookup a line when tracing is off.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import winston from 'winston';
import Transport from 'winston-transport';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (an object's namespace/name, an execution id). */
  child(fields: Record<string, unknown>): Logger;
}

const levels: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
/** triple-beam's key for the finished line, which winston's transports read. */
const MESSAGE = Symbol.for('message');
/** Fields ride under a symbol so a field named `level` or `message` cannot change how winston routes the line. */
const FIELDS = Symbol('fields');
const TRACE = Symbol('trace');

/**
 * Runs inside logger.log(): winston hands a line through its formats and a synchronous transport in
 * the same tick (checked, also for bursts), so the active span here is the caller's.
 */
const traceContext = winston.format((info) => {
  const span = trace.getActiveSpan()?.spanContext();
  if (span && isSpanContextValid(span)) info[TRACE] = { trace_id: span.traceId, span_id: span.spanId };
  return info;
});

const jsonLine = winston.format((info, opts) => {
  const { component, redact } = opts as { component: string; redact: (text: string) => string };
  const record = {
    time: new Date().toISOString(),
    level: info.level,
    component,
    message: info.message,
    ...(info[FIELDS] as Record<string, unknown>),
    ...(info[TRACE] as Record<string, string> | undefined),
  };
  // Each string is redacted before JSON escapes it (a secret with a newline or a quote would no longer
  // match once escaped), and the finished line once more.
  const line = JSON.stringify(record, (_k, v) =>
    v instanceof Error ? redact(v.message) : typeof v === 'string' ? redact(v) : v,
  );
  info[MESSAGE] = redact(line);
  return info;
});

class LineTransport extends Transport {
  #write: (line: string) => void;
  constructor(write: (line: string) => void) {
    super();
    this.#write = write;
  }
  override log(info: Record<symbol, unknown>, next: () => void): void {
    this.#write(`${info[MESSAGE]}\n`);
    next();
  }
}

export function createLogger(opts: {
  level: Level;
  component: string;
  redact?: (text: string) => string;
  write?: (line: string) => void;
}): Logger {
  const instance = winston.createLogger({
    level: opts.level,
    levels,
    format: winston.format.combine(
      traceContext(),
      jsonLine({ component: opts.component, redact: opts.redact ?? ((t: string) => t) }),
    ),
    transports: [new LineTransport(opts.write ?? ((line: string) => process.stderr.write(line)))],
    exitOnError: false,
  });
  const bound = (base: Record<string, unknown>): Logger => {
    const log =
      (level: Level) =>
      (message: string, fields?: Record<string, unknown>): void => {
        // Checked first so a filtered debug line costs no object and no trip through winston's stream.
        if (levels[level] > levels[opts.level]) return;
        instance.log({ level, message, [FIELDS]: fields ? { ...base, ...fields } : base });
      };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (fields) => bound({ ...base, ...fields }),
    };
  };
  return bound({});
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
