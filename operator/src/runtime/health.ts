/** /healthz (the process is alive) and /readyz (caches synced, leading or standing by). */
import { createServer, type Server } from 'node:http';

export function startHealthServer(opts: {
  host: string | undefined;
  port: number;
  ready: () => boolean;
}): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (req.url === '/readyz') {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const address = server.address();
      resolve(Object.assign(server, { port: typeof address === 'object' && address ? address.port : opts.port }));
    });
  });
}
