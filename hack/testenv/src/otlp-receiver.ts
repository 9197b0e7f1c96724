/**
 * An OTLP receiver on loopback, standing in for a collector: point OTEL_EXPORTER_OTLP_ENDPOINT at
 * `url`. Over HTTP (the default), spans sent to /v1/traces are decoded (protobuf, the JS SDK's default,
 * or JSON, gzipped or not); /v1/metrics and /v1/logs are accepted unread. With `protocol: 'grpc'` it is
 * an OTLP/gRPC collector instead (HTTP/2, the TraceService Export method, gRPC framing and trailers), for
 * OTEL_EXPORTER_OTLP_PROTOCOL=grpc. Every request is counted by path, so a test can also show that
 * nothing was exported.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeJsonTraces, decodeProtobufTraces, type ReceivedSpan } from './otlp-decode.ts';

export type { ReceivedSpan } from './otlp-decode.ts';

const signals = new Set(['/v1/traces', '/v1/metrics', '/v1/logs']);
const grpcTraceExport = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const grpcExports = new Set([
  grpcTraceExport,
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
]);

type Encoding = 'json' | 'protobuf';

function encodingOf(req: IncomingMessage): Encoding | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  return undefined;
}

async function bodyOf(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** An empty Export*ServiceResponse, which is success, in the request's encoding. */
function accept(res: ServerResponse, encoding: Encoding): void {
  if (encoding === 'json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  #counts = new Map<string, number>();
  #waiters = new Set<() => void>();
  #server: Server | Http2Server;

  private constructor(protocol: 'http' | 'grpc') {
    this.#server =
      protocol === 'grpc'
        ? createHttp2Server().on('stream', (stream, headers) => {
            this.#handleGrpc(stream, String(headers[':path'] ?? '')).catch(() => stream.close());
          })
        : createServer((req, res) => {
            this.#handle(req, res).catch((error: unknown) => {
              if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
              res.end(`cannot decode: ${error instanceof Error ? error.message : String(error)}\n`);
            });
          });
  }

  /** On a free loopback port, or on `port` (4318, the exporters' default, to catch stray exports). */
  static async start(opts: { port?: number; protocol?: 'http' | 'grpc' } = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(opts.protocol ?? 'http');
    receiver.#server.listen(opts.port ?? 0, '127.0.0.1');
    await once(receiver.#server, 'listening');
    return receiver;
  }

  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (exporters add /v1/traces etc.). */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Requests received at `path` (any path, answered or not), or at all paths. */
  requests(path?: string): number {
    if (path !== undefined) return this.#counts.get(path) ?? 0;
    let total = 0;
    for (const n of this.#counts.values()) total += n;
    return total;
  }

  /** Resolves with all spans received once `predicate` holds for them; rejects after `timeoutMs`. */
  async waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    if (predicate(this.spans)) return this.spans;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.spans)) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(this.spans);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        const seen = this.spans.map((s) => `${s.serviceName}:${s.kind}:${s.name}`).join(', ') || 'none';
        const counts = JSON.stringify(Object.fromEntries(this.#counts));
        reject(new Error(`spans not received within ${timeoutMs} ms; spans: ${seen}; requests: ${counts}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    const server = this.#server;
    const closed = once(server, 'close');
    server.close();
    // Exporters keep their connection alive; without this close() would wait for it to time out.
    if ('closeAllConnections' in server) server.closeAllConnections();
    else for (const session of this.#sessions) session.destroy();
    await closed;
  }

  #sessions = new Set<ServerHttp2Session>();

  /** One unary gRPC call: length-prefixed messages in, an empty response and grpc-status 0 out. */
  async #handleGrpc(stream: ServerHttp2Stream, path: string): Promise<void> {
    this.#sessions.add(stream.session as ServerHttp2Session);
    this.#counts.set(path, (this.#counts.get(path) ?? 0) + 1);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const respond = (status: number, message = '') => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': String(status), ...(message ? { 'grpc-message': message } : {}) }),
      );
      stream.end(status === 0 ? Buffer.from([0, 0, 0, 0, 0]) : undefined);
    };
    if (!grpcExports.has(path)) return respond(12, 'unimplemented');
    if (path === grpcTraceExport) {
      for (let i = 0; i + 5 <= body.length; ) {
        const compressed = body[i] === 1;
        const length = body.readUInt32BE(i + 1);
        const message = body.subarray(i + 5, i + 5 + length);
        this.spans.push(...decodeProtobufTraces(compressed ? gunzipSync(message) : message));
        i += 5 + length;
      }
      for (const check of [...this.#waiters]) check();
    }
    respond(0);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    this.#counts.set(path, (this.#counts.get(path) ?? 0) + 1);
    if (req.method !== 'POST' || !signals.has(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not an OTLP/HTTP path\n');
      return;
    }
    const encoding = encodingOf(req);
    if (!encoding) {
      res
        .writeHead(415, { 'content-type': 'text/plain' })
        .end('OTLP/HTTP takes application/x-protobuf or application/json\n');
      return;
    }
    const body = await bodyOf(req);
    if (path === '/v1/traces') {
      this.spans.push(...(encoding === 'json' ? decodeJsonTraces(body) : decodeProtobufTraces(body)));
      for (const check of [...this.#waiters]) check();
    }
    accept(res, encoding);
  }
}
