/** Serves the gRPC service over HTTP/2 on a Unix socket (and optionally a TCP port, for development). */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Http2Server } from 'node:http2';
import type { Interceptor, ServiceImpl } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { GitSidecarService } from '@gco/sidecar-api';

export interface Listener {
  close(): Promise<void>;
}

export async function listen(
  impl: ServiceImpl<typeof GitSidecarService>,
  opts: {
    socketPath?: string;
    socketMode?: number;
    tcp?: { host: string; port: number };
    /** Server interceptors (trace context from the caller). */
    interceptors?: Interceptor[];
  },
): Promise<Listener & { tcpPort?: number }> {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(GitSidecarService, impl),
    interceptors: opts.interceptors,
    // The controller sends only gRPC; the other protocols cost nothing and help debugging with curl.
    grpc: true,
    grpcWeb: false,
    connect: true,
  });
  const servers: Http2Server[] = [];
  let tcpPort: number | undefined;
  if (opts.socketPath) {
    // A socket file left by a killed process would make listen fail with EADDRINUSE.
    await rm(opts.socketPath, { force: true });
    const server = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, resolve);
    });
    await chmod(opts.socketPath, opts.socketMode ?? 0o660);
    servers.push(server);
  }
  if (opts.tcp) {
    const server = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.tcp?.port, opts.tcp?.host, resolve);
    });
    const address = server.address();
    tcpPort = typeof address === 'object' && address ? address.port : undefined;
    servers.push(server);
  }
  return {
    tcpPort,
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
            }),
        ),
      );
      if (opts.socketPath) await rm(opts.socketPath, { force: true });
    },
  };
}
