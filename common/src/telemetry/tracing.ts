/**
 * Tracing bootstrap, configured by the standard OTEL_* variables. When they ask for no export, nothing
 * is loaded or registered: @opentelemetry/api stays no-op, spans are non-recording and cost next to
 * nothing. @opentelemetry/sdk-node is imported only then, because importing it alone takes ~200 ms and
 * tens of MB (it pulls in every exporter).
 */
import { type Attributes, DiagLogLevel, diag, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { Logger } from '../logger.ts';

export interface Tracing {
  /** Whether spans are exported; false means the API was left no-op. */
  enabled: boolean;
  /** Flushes spans not yet exported; safe to call twice. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

function set(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** What the OTEL_* variables ask for (OTEL_TRACES_EXPORTER=none wins over an endpoint, as in the SDK). */
export function tracingRequested(env: Env = process.env): boolean {
  if (set(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporters = (set(env, 'OTEL_TRACES_EXPORTER') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.length > 0) return exporters.some((e) => e !== 'none');
  return (
    set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined ||
    set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined
  );
}

const diagLevels: Record<string, DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

function detail(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The SDK's own complaints (an unreachable collector, say) as our JSON lines rather than console text. */
function routeDiagnostics(logger: Logger, env: Env): void {
  const level = diagLevels[set(env, 'OTEL_LOG_LEVEL')?.toLowerCase() ?? 'warn'] ?? DiagLogLevel.WARN;
  const to =
    (log: (message: string, fields: Record<string, unknown>) => void) =>
    (message: string, ...args: unknown[]) =>
      log(`otel: ${message}`, args.length > 0 ? { details: args.map(detail) } : {});
  diag.setLogger(
    {
      error: to((m, f) => logger.error(m, f)),
      warn: to((m, f) => logger.warn(m, f)),
      info: to((m, f) => logger.info(m, f)),
      debug: to((m, f) => logger.debug(m, f)),
      verbose: to((m, f) => logger.debug(m, f)),
    },
    { logLevel: level, suppressOverrideMessage: true },
  );
}

/** Error text leaves the process on spans too, so it passes the same redactor as log lines. */
let redactSpanText: (text: string) => string = (text) => text;

export async function startTracing(opts: {
  serviceName: string;
  logger?: Logger;
  /** Applied to error messages and stacks recorded on spans (the sidecar passes its credential redactor). */
  redact?: (text: string) => string;
}): Promise<Tracing> {
  const env = process.env;
  if (!tracingRequested(env)) return { enabled: false, shutdown: async () => {} };
  if (opts.redact) redactSpanText = opts.redact;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const serviceName = set(env, 'OTEL_SERVICE_NAME') ?? opts.serviceName;
  const sdk = new NodeSDK({
    // NodeSDK's serviceName beats OTEL_SERVICE_NAME, so the variable is applied here.
    serviceName,
    // Left to the SDK, metrics and logs would default to OTLP export too; they are ours only on request.
    ...(set(env, 'OTEL_METRICS_EXPORTER') ? {} : { metricReaders: [] }),
    ...(set(env, 'OTEL_LOGS_EXPORTER') ? {} : { logRecordProcessors: [] }),
    instrumentations: [],
  });
  if (opts.logger) routeDiagnostics(opts.logger, env);
  sdk.start();
  opts.logger?.info('exporting traces', {
    service: serviceName,
    exporter: set(env, 'OTEL_TRACES_EXPORTER') ?? 'otlp',
    protocol:
      set(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? set(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf',
  });
  let done: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown() {
      done ??= sdk.shutdown().catch((error: unknown) => {
        opts.logger?.warn('flushing traces failed', { error });
      });
      return done;
    },
  };
}

export const tracerName = 'git-change-operator';

/** The tracer of both processes; a proxy until the SDK starts, so it may be taken at import time. */
export function tracer(): Tracer {
  return trace.getTracer(tracerName);
}

/** Marks a span failed with the error, the way every span here reports a failure. */
export function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const message = redactSpanText(error instanceof Error ? error.message : String(error));
  span.recordException(
    error instanceof Error
      ? { name: error.name, message, stack: error.stack === undefined ? undefined : redactSpanText(error.stack) }
      : message,
  );
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Runs `fn` in a new active span, so spans and log lines inside it belong to it; a throw or rejection is
 * recorded on the span and passed on. Works for sync and async `fn`; the span ends when `fn` settles.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      recordFailure(span, error);
      span.end();
      throw error;
    }
    if (!isPromiseLike(result)) {
      span.end();
      return result;
    }
    return Promise.resolve(result).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        recordFailure(span, error);
        span.end();
        throw error;
      },
    ) as T;
  });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
