/**
 * A small JSON client for the Kubernetes API over `node:https`, authenticated by a ClusterAuth
 * (cluster-auth.ts: in-cluster, kubeconfig files, client-node for exec plugins). Objects travel as plain
 * JSON: client-node's typed serializers rename and drop fields of objects they do not model, which is
 * wrong for a controller that reads any kind and writes the status of its own.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ClusterAuth } from './cluster-auth.ts';

/**
 * Our own connection pools. Node's global agent (keep-alive with a 5 s socket timeout since Node 19)
 * would cut every watch that stays quiet for 5 s. Ordinary requests each carry their own timeout; their
 * idle pooled sockets are closed after 60 s, before the API server's 90 s idle timeout can race a new
 * request on them. Watches have a pool with no socket timeout at all: a quiet watch is normal, and a
 * dead one is the informer's watchdog's job. TCP keep-alive probes start after 30 s, as client-go's dialer.
 */
const pools = {
  request: {
    'http:': new HttpAgent({ keepAlive: true, keepAliveMsecs: 30_000, timeout: 60_000 }),
    'https:': new HttpsAgent({ keepAlive: true, keepAliveMsecs: 30_000, timeout: 60_000 }),
  },
  watch: {
    'http:': new HttpAgent({ keepAlive: true, keepAliveMsecs: 30_000 }),
    'https:': new HttpsAgent({ keepAlive: true, keepAliveMsecs: 30_000 }),
  },
};

/**
 * An agent a ClusterAuth supplied is kept only when it is more than a plain pool (a proxy agent from a
 * kubeconfig's proxy-url); client-node's plain per-request agent is replaced by ours, which keeps
 * connections alive. TLS settings travel in the request options either way.
 */
function agentFor(url: URL, supplied: RequestOptions['agent'], watch: boolean): RequestOptions['agent'] {
  const plain =
    !supplied ||
    Object.getPrototypeOf(supplied) === HttpsAgent.prototype ||
    Object.getPrototypeOf(supplied) === HttpAgent.prototype;
  if (!plain) return supplied;
  return pools[watch ? 'watch' : 'request'][url.protocol === 'http:' ? 'http:' : 'https:'];
}

/** Accept header asking for PartialObjectMetadata: objects without spec, data or status. */
export const metadataOnlyAccept = {
  list: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
  object: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
};

export interface Status {
  kind?: 'Status';
  code?: number;
  reason?: string;
  message?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isForbidden = (e: unknown) => e instanceof ApiError && e.status === 403;
export const isGone = (e: unknown) => e instanceof ApiError && e.status === 410;

export interface Impersonation {
  user: string;
  groups?: string[];
}

export interface RequestOpts {
  /** The Accept header; application/json unless set. */
  accept?: string;
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class KubeClient {
  readonly auth: ClusterAuth;
  private readonly impersonation: Impersonation | undefined;

  constructor(auth: ClusterAuth, impersonation?: Impersonation) {
    this.auth = auth;
    this.impersonation = impersonation;
  }

  /** The same client acting as another identity (Impersonate-User/Group headers). */
  impersonating(impersonation: Impersonation): KubeClient {
    return new KubeClient(this.auth, impersonation);
  }

  private async options(
    method: string,
    path: string,
    opts: RequestOpts,
  ): Promise<{ url: URL; options: RequestOptions }> {
    const url = new URL(this.auth.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const options: RequestOptions & { headers: Record<string, string | string[]> } = {
      method,
      headers: { accept: opts.accept ?? 'application/json' },
    };
    await this.auth.apply(options);
    if (opts.body !== undefined) options.headers['content-type'] = opts.contentType ?? 'application/json';
    if (this.impersonation) {
      options.headers['impersonate-user'] = this.impersonation.user;
      if (this.impersonation.groups?.length) options.headers['impersonate-group'] = this.impersonation.groups;
    }
    return { url, options };
  }

  /** Sends a request: with a timeout, or as a watch, with none. */
  private send(
    url: URL,
    options: RequestOptions,
    opts: RequestOpts & ({ timeoutMs: number } | { watch: true }),
  ): Promise<IncomingMessage> {
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const watch = 'watch' in opts;
    const agent = agentFor(url, options.agent, watch);
    return new Promise((resolve, reject) => {
      const timeout = 'timeoutMs' in opts ? opts.timeoutMs : undefined;
      const req = send(url, { ...options, agent, signal: opts.signal, timeout }, resolve);
      req.on('error', reject);
      if (!watch) req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
    });
  }

  async request<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const { url, options } = await this.options(method, path, opts);
    const res = await this.send(url, options, { ...opts, timeoutMs: opts.timeoutMs ?? 30_000 });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      let parsed: Status = {};
      try {
        parsed = JSON.parse(text) as Status;
      } catch {
        parsed = { message: text.slice(0, 500) };
      }
      throw new ApiError(status, parsed.reason ?? 'Unknown', parsed.message ?? `HTTP ${status} for ${method} ${path}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  get<T>(path: string, opts?: RequestOpts) {
    return this.request<T>('GET', path, opts);
  }

  /**
   * Streams a watch: calls `onEvent` per JSON line until the server ends the stream (resolves) or the
   * connection fails (rejects). Aborting the signal ends it. The connection has no client-side timeout:
   * the server ends a watch after its `timeoutSeconds`.
   */
  async watch(path: string, opts: WatchOpts): Promise<void> {
    const { url, options } = await this.options('GET', path, {
      query: { ...opts.query, watch: true },
      accept: opts.accept,
    });
    const res = await this.send(url, options, { signal: opts.signal, watch: true });
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      let parsed: Status = {};
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Status;
      } catch {
        parsed = {};
      }
      throw new ApiError(res.statusCode ?? 0, parsed.reason ?? 'Unknown', parsed.message ?? 'watch failed');
    }
    // Decoded as a stream: a character split across two chunks stays whole.
    res.setEncoding('utf8');
    let buffer = '';
    for await (const chunk of res) {
      buffer += chunk as string;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) opts.onEvent(JSON.parse(line));
        newline = buffer.indexOf('\n');
      }
    }
  }
}

export interface WatchOpts {
  query?: RequestOpts['query'];
  /** The Accept header; application/json unless set. */
  accept?: string;
  signal: AbortSignal;
  /** Called per event; a throw ends the watch with that error. */
  onEvent: (event: unknown) => void;
}
