/**
 * A small JSON client for the Kubernetes API over `node:https`, authenticated by a ClusterAuth
 * (cluster-auth.ts: in-cluster, kubeconfig files, client-node for exec plugins). Objects travel as plain
 * JSON: client-node's typed serializers rename and drop fields of objects they do not model, which is
 * wrong for a controller that reads any kind and writes the status of its own.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ClusterAuth } from './cluster-auth.ts';

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
      headers: { accept: 'application/json' },
    };
    await this.auth.apply(options);
    if (opts.body !== undefined) options.headers['content-type'] = opts.contentType ?? 'application/json';
    if (this.impersonation) {
      options.headers['impersonate-user'] = this.impersonation.user;
      if (this.impersonation.groups?.length) options.headers['impersonate-group'] = this.impersonation.groups;
    }
    return { url, options };
  }

  private send(url: URL, options: RequestOptions, opts: RequestOpts): Promise<IncomingMessage> {
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...options, signal: opts.signal, timeout: opts.timeoutMs }, resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
    });
  }

  async request<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const { url, options } = await this.options(method, path, opts);
    const res = await this.send(url, options, { timeoutMs: 30_000, ...opts });
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
   * connection fails (rejects). Aborting the signal ends it.
   */
  async watch(
    path: string,
    query: RequestOpts['query'],
    onEvent: (event: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { url, options } = await this.options('GET', path, { query: { ...query, watch: true } });
    const res = await this.send(url, options, { signal });
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const parsed = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Status;
      throw new ApiError(res.statusCode ?? 0, parsed.reason ?? 'Unknown', parsed.message ?? 'watch failed');
    }
    let buffer = '';
    for await (const chunk of res) {
      buffer += (chunk as Buffer).toString();
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) onEvent(JSON.parse(line));
        newline = buffer.indexOf('\n');
      }
    }
  }
}
