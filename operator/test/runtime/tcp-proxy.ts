/**
 * A TCP proxy in front of the API server (TLS passes through untouched) that a test can freeze, to play
 * a half-open connection (a dropped NAT entry, a hung load balancer: nothing forwarded, nothing
 * closed), or cut, to play a broken one.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  /** Connections accepted so far. */
  connections = 0;
  private readonly server: Server;
  private readonly target: { host: string; port: number };
  private readonly open = new Set<Pair>();
  private readonly frozen = new Set<Pair>();

  private constructor(server: Server, target: { host: string; port: number }) {
    this.server = server;
    this.target = target;
    server.on('connection', (client) => this.accept(client));
  }

  /** A proxy to `targetUrl` (the API server's https URL) on a free loopback port. */
  static async start(targetUrl: string): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const server = createServer();
    const proxy = new TcpProxy(server, { host: url.hostname, port: Number(url.port) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The API server's URL through the proxy. */
  get url(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('proxy not listening');
    return `https://127.0.0.1:${address.port}`;
  }

  /** Stops forwarding on every open connection, closing none; new connections pass. Returns how many. */
  freeze(): number {
    for (const pair of this.open) {
      pair.client.pause();
      pair.upstream.pause();
      this.open.delete(pair);
      this.frozen.add(pair);
    }
    return this.frozen.size;
  }

  /** Closes every connection, frozen or not, abruptly. */
  cut(): void {
    for (const pair of [...this.open, ...this.frozen]) destroy(pair);
    this.open.clear();
    this.frozen.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    const upstream = connect(this.target);
    const pair = { client, upstream };
    this.open.add(pair);
    const close = () => {
      destroy(pair);
      this.open.delete(pair);
      this.frozen.delete(pair);
    };
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
      socket.on('end', close);
    }
  }
}

function destroy(pair: Pair): void {
  pair.client.destroy();
  pair.upstream.destroy();
}
