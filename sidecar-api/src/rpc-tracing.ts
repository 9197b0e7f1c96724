/**
 * Connect interceptors that make one trace of a call across the Unix socket: the client's span context
 * travels in the W3C traceparent/tracestate headers, and the server runs the handler in a span that is
 * its child, so whatever the handler traces or logs belongs to the caller's trace. With tracing off the
 * propagator is no-op: no header is sent and the spans are non-recording.
 *
 * Spans cover a call until its response arrives; every method of the service is unary, so that is the
 * whole call (a streaming method's span would end when its stream opens).
 */

import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { recordFailure, tracer } from '@gco/common/telemetry';
import { type Attributes, context, propagation, type Span, SpanKind, type TextMapGetter } from '@opentelemetry/api';

const headerSetter = {
  set(carrier: Headers, key: string, value: string) {
    carrier.set(key, value);
  },
};

const headerGetter: TextMapGetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => [...carrier.keys()],
};

function callOf(req: Parameters<Parameters<Interceptor>[0]>[0]): { name: string; attributes: Attributes } {
  const service = req.service.typeName;
  const method = req.method.name;
  return {
    name: `${service}/${method}`,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method },
  };
}

/** gRPC codes a server reports as its own failure (OTel semantic conventions); the others are the caller's. */
const serverFaults = new Set<Code>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/** gRPC's OK, which Connect's Code leaves out. */
const ok = 0;

function recordError(span: Span, error: unknown, isFault: (code: Code) => boolean): void {
  const code = ConnectError.from(error).code;
  span.setAttribute('rpc.grpc.status_code', code);
  if (isFault(code)) recordFailure(span, error);
}

/** For the controller's transport: a CLIENT span per call, its context sent in the request headers. */
export function clientTracingInterceptor(): Interceptor {
  return (next) => async (req) => {
    const { name, attributes } = callOf(req);
    return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      propagation.inject(context.active(), req.header, headerSetter);
      try {
        const res = await next(req);
        span.setAttribute('rpc.grpc.status_code', ok);
        return res;
      } catch (error) {
        recordError(span, error, () => true);
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

/** For the sidecar's adapter: a SERVER span per call, child of the caller's span and active in the handler. */
export function serverTracingInterceptor(): Interceptor {
  return (next) => async (req) => {
    const { name, attributes } = callOf(req);
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    return tracer().startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
      try {
        const res = await next(req);
        span.setAttribute('rpc.grpc.status_code', ok);
        return res;
      } catch (error) {
        recordError(span, error, (code) => serverFaults.has(code));
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
