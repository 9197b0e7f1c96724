/** Telemetry shared by the controller and the sidecar: tracing, RPC trace propagation, Prometheus metrics. */
export { createRegistry, secondsBuckets } from './metrics.ts';
export { type MetricsServer, startMetricsServer } from './metrics-server.ts';
export { clientTracingInterceptor, serverTracingInterceptor } from './rpc-tracing.ts';
export {
  inSpan,
  recordFailure,
  startTracing,
  type Tracing,
  tracer,
  tracerName,
  tracingRequested,
} from './tracing.ts';
