/**
 * The git sidecar's API, for the controller, the sidecar and the tests: the messages and service generated
 * from proto/ (Failure_Reason is what the controller maps to status reasons), the client, and the
 * interceptors that carry a trace across the socket.
 */
export { createSidecarClient, failureOf, type SidecarClient } from './client.ts';
export * from './gen/gco/sidecar/v1/sidecar_pb.js';
export { clientTracingInterceptor, serverTracingInterceptor } from './rpc-tracing.ts';
