/**
 * Serves a registry at GET /metrics for Prometheus, /healthz (the process answers) and, given `ready`,
 * /readyz; a plain node:http server, apart from the gRPC one.
 */
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';

export interface MetricsServer {
  /** The port listened on; the one chosen when asked for port 0. */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  host: string | undefined;
  port: number;
  registry: Registry;
  logger: Logger;
  /** Answers /readyz: 200 while true, 503 while false. Without it, /readyz is not served (404). */
  ready?: () => boolean;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    // The sidecar has no other HTTP endpoint: its liveness probe asks here whether the process answers.
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    // And its readiness probe whether it takes jobs (see git-sidecar/src/main.ts for when it does).
    if (path === '/readyz' && opts.ready) {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    opts.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        opts.logger.error('collecting metrics failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.logger.info('serving metrics', { host: opts.host, port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would otherwise hold close() open until it times out.
        server.closeAllConnections();
      }),
  };
}
