/**
 * Telemetry shared by the controller and the sidecar: tracing, Prometheus metrics. Trace propagation
 * across the socket is part of the sidecar's API (@gco/sidecar-api).
 */
export { createRegistry, secondsBuckets } from './metrics.ts';
export { type MetricsServer, startMetricsServer } from './metrics-server.ts';
export { inSpan, recordFailure, startTracing, type Tracing, tracer, tracerName, tracingRequested } from './tracing.ts';
