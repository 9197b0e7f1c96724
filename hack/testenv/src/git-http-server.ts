/**
 * A real git smart-HTTP server for tests: `git http-backend` (the CGI program git ships) behind a small
 * loopback HTTP server that does what hosting services do in front of it: authentication (HTTP basic
 * with a username/password or a token as the password, as GitHub takes it), 401 challenges, 404 for
 * missing repositories, and partial clone on or off.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { runOk } from './processes.ts';

export interface GitHttpAuth {
  /** username -> password */
  users?: Record<string, string>;
  /** Tokens accepted as the password with any username (GitHub's `x-access-token:<token>`). */
  tokens?: string[];
  /** Let unauthenticated clients fetch (but not push). */
  anonymousRead?: boolean;
}

export interface GitHttpServerOptions {
  /** Directory holding bare repositories; `/<name>` in a URL maps to `<root>/<name>`. */
  root: string;
  /** Omit for a server that needs no credentials at all (anonymous read and write). */
  auth?: GitHttpAuth;
  /** Advertise and serve partial clone filters (`--filter=blob:none`). Default true. */
  partialClone?: boolean;
  /**
   * Create a missing repository (`<name>.git`) on its first push, as Gitea and GitLab can
   * ("push to create"). Off by default: a push to a missing repository is a 404, as on GitHub.
   */
  createOnPush?: boolean;
  /** Serve HTTPS with this key and certificate (PEM), as a host with a private CA does. */
  tls?: { key: string; cert: string };
}

export interface GitHttpRequest {
  method: string;
  path: string;
  service: string | undefined;
  user: string | undefined;
  status: number;
  /** How long the server took to answer. */
  ms: number;
}

/** Extra routes served on the same host, such as a GitHub API stand-in. Return true when handled. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export class GitHttpServer {
  readonly root: string;
  readonly requests: GitHttpRequest[] = [];
  partialClone: boolean;
  auth: GitHttpAuth | undefined;
  readonly createOnPush: boolean;
  private readonly tls: GitHttpServerOptions['tls'];
  private readonly routes: RouteHandler[] = [];
  private server: Server | undefined;
  private port = 0;

  constructor(options: GitHttpServerOptions) {
    this.root = options.root;
    this.auth = options.auth;
    this.partialClone = options.partialClone ?? true;
    this.createOnPush = options.createOnPush ?? false;
    this.tls = options.tls;
  }

  get baseUrl(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** URL of a repository under the root, such as `url('team/config.git')`. */
  url(name: string): string {
    return `${this.baseUrl}/${name}`;
  }

  addRoute(handler: RouteHandler): void {
    this.routes.push(handler);
  }

  /** Listens on loopback with a free port unless told otherwise. */
  async start(listen: { host?: string; port?: number } = {}): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${String(error)}\n`);
      });
    };
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server?.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const route of this.routes) {
      if (await route(req, res)) return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const service = url.searchParams.get('service') ?? lastSegment(url.pathname);
    const isPush = service === 'git-receive-pack';
    const user = this.authenticate(req.headers.authorization);
    const started = performance.now();
    const record = (status: number) =>
      this.requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        service,
        user: user || undefined,
        status,
        ms: Math.round(performance.now() - started),
      });

    if (user === false || (user === undefined && this.auth && (isPush || !this.auth.anonymousRead))) {
      record(401);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="gco test git server"', 'content-type': 'text/plain' });
      res.end(user === false ? 'Invalid username or password.\n' : 'Authentication required.\n');
      return;
    }
    // Checked decoded: `%2e%2e` and `%2F` must not walk out of the root either.
    if (safeDecode(url.pathname)?.split('/').includes('..') !== false) {
      record(400);
      res.writeHead(400).end();
      return;
    }
    if (isPush && this.createOnPush) await this.createRepository(url.pathname);
    const status = await this.cgi(req, res, url, user ?? undefined);
    record(status);
  }

  /** Creates the bare repository a push path names (`/<name>.git/...`), when it is missing. */
  private async createRepository(pathname: string): Promise<void> {
    const segments = decodeURIComponent(pathname).split('/').filter(Boolean);
    const end = segments.findIndex((s) => s.endsWith('.git'));
    if (end < 0) return;
    const dir = resolve(this.root, ...segments.slice(0, end + 1));
    if (!dir.startsWith(resolve(this.root) + sep)) return;
    if (existsSync(join(dir, 'HEAD'))) return;
    await runOk('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  }

  /** A user name, `undefined` when no credentials were sent, `false` when they were wrong. */
  private authenticate(header: string | undefined): string | undefined | false {
    if (!this.auth) return header ? 'anonymous' : undefined;
    if (!header) return undefined;
    const [scheme, value] = header.split(' ', 2);
    let username: string;
    let secret: string;
    if (scheme?.toLowerCase() === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString();
      const colon = decoded.indexOf(':');
      if (colon < 0) return false;
      username = decoded.slice(0, colon);
      secret = decoded.slice(colon + 1);
    } else if (scheme?.toLowerCase() === 'bearer' && value) {
      username = 'token';
      secret = value;
    } else {
      return false;
    }
    if (this.auth.users?.[username] !== undefined && this.auth.users[username] === secret) return username;
    if (this.auth.tokens?.includes(secret)) return username || 'token';
    return false;
  }

  private cgi(req: IncomingMessage, res: ServerResponse, url: URL, user: string | undefined): Promise<number> {
    const config: Array<[string, string]> = [
      ['http.receivepack', 'true'],
      ['http.uploadpack', 'true'],
      ['uploadpack.allowFilter', String(this.partialClone)],
      ['uploadpack.allowAnySHA1InWant', String(this.partialClone)],
      ['receive.denyCurrentBranch', 'ignore'],
      // Check every pushed object, as GitHub does: a malformed tree or commit is refused.
      ['receive.fsckObjects', 'true'],
    ];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_USER: user ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_COUNT: String(config.length),
      ...Object.fromEntries(
        config.flatMap(([k, v], i) => [
          [`GIT_CONFIG_KEY_${i}`, k],
          [`GIT_CONFIG_VALUE_${i}`, v],
        ]),
      ),
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
    return new Promise((resolve, reject) => {
      const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      req.pipe(child.stdin);
      child.stdin.on('error', () => {});
      let headerBuffer = Buffer.alloc(0);
      let headersDone = false;
      let status = 200;
      const stderr: Buffer[] = [];
      child.stderr.on('data', (d: Buffer) => stderr.push(d));
      child.stdout.on('data', (chunk: Buffer) => {
        if (headersDone) {
          res.write(chunk);
          return;
        }
        headerBuffer = Buffer.concat([headerBuffer, chunk]);
        const end = findHeaderEnd(headerBuffer);
        if (!end) return;
        const headers: Record<string, string> = {};
        for (const line of headerBuffer.subarray(0, end.index).toString().split(/\r?\n/)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim();
          const value = line.slice(colon + 1).trim();
          if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
          else headers[name] = value;
        }
        headersDone = true;
        res.writeHead(status, headers);
        res.write(headerBuffer.subarray(end.index + end.length));
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (!headersDone) {
          status = 500;
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.write(Buffer.concat(stderr));
        } else if (code !== 0 && status === 200) {
          // The body has started; all we can do is cut it short so the client sees the failure.
          res.destroy();
          resolve(500);
          return;
        }
        res.end();
        resolve(status);
      });
    });
  }
}

/** The decoded path, or undefined when it is not valid percent-encoding. */
function safeDecode(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

function findHeaderEnd(buf: Buffer): { index: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf >= 0) return { index: lf, length: 2 };
  return undefined;
}

function lastSegment(pathname: string): string | undefined {
  const seg = pathname.split('/').pop();
  return seg?.startsWith('git-') ? seg : undefined;
}

/** Convenience: a server over a fresh root directory. */
export async function startGitHttpServer(root: string, options: Omit<GitHttpServerOptions, 'root'> = {}) {
  return new GitHttpServer({ root: join(root), ...options }).start();
}
