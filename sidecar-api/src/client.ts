/** A client of the git sidecar, for the controller and for tests: gRPC over HTTP/2 on the Unix socket. */
import { connect } from 'node:net';
import { type Client, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { type Failure, FailureSchema, GitSidecarService } from './gen/gco/sidecar/v1/sidecar_pb.js';
import { clientTracingInterceptor } from './rpc-tracing.ts';

export type SidecarClient = Client<typeof GitSidecarService>;

export function createSidecarClient(target: { socketPath: string } | { baseUrl: string }): SidecarClient {
  // Every call carries the caller's trace context, so the sidecar's spans join the controller's trace.
  const interceptors = [clientTracingInterceptor()];
  const transport =
    'socketPath' in target
      ? createGrpcTransport({
          baseUrl: 'http://localhost',
          nodeOptions: { createConnection: () => connect(target.socketPath) },
          interceptors,
        })
      : createGrpcTransport({ baseUrl: target.baseUrl, interceptors });
  return createClient(GitSidecarService, transport);
}

/** The sidecar's Failure detail of an error, if it carries one. */
export function failureOf(error: unknown): Failure | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  return error.findDetails(FailureSchema)[0];
}
