/**
 * Where the API server is and how to authenticate to it, for KubeClient: the in-cluster ServiceAccount,
 * or a kubeconfig file with a token, a token file, a client certificate or a username and password.
 *
 * Read here rather than with @kubernetes/client-node's KubeConfig because importing that module loads
 * the whole generated API (about 85 MB of memory, half the operator's idle footprint, measured with
 * `npm run bench -w @gco/operator`). It is still used, imported only then, for the kubeconfigs this file
 * does not read itself: exec plugins and auth providers (cloud CLIs, OIDC), which developers use on their
 * machines and an operator in a cluster never does.
 *
 * The order is controller-runtime's: --kubeconfig, then $KUBECONFIG, then in-cluster, then
 * ~/.kube/config.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

export interface ClusterAuth {
  /** The API server's URL. */
  readonly server: string;
  /** Adds what a request needs: TLS trust, a client certificate, an Authorization header. */
  apply(options: RequestOptions & { headers: Record<string, string | string[]> }): Promise<void>;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export async function loadClusterAuth(
  opts: { kubeconfig?: string; env?: NodeJS.ProcessEnv; serviceAccountDir?: string } = {},
): Promise<ClusterAuth> {
  const env = opts.env ?? process.env;
  const saDir = opts.serviceAccountDir ?? serviceAccountDir;
  if (opts.kubeconfig) return fromKubeconfigFile(opts.kubeconfig);
  const fromEnv = env.KUBECONFIG?.split(delimiter).find((p) => p && existsSync(p));
  if (fromEnv) return fromKubeconfigFile(fromEnv);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(join(saDir, 'token')))
    return inCluster(env, saDir);
  const home = join(homedir(), '.kube/config');
  if (existsSync(home)) return fromKubeconfigFile(home);
  throw new Error('no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster');
}

/** The pod's ServiceAccount. The token is read again when the kubelet rotates it (bound tokens expire). */
function inCluster(env: NodeJS.ProcessEnv, dir: string): ClusterAuth {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`;
  const token = rereadEvery(60_000, async () => (await readFile(join(dir, 'token'), 'utf8')).trim());
  const ca = readFile(join(dir, 'ca.crt'));
  return {
    server,
    async apply(options) {
      options.ca = await ca;
      options.headers.authorization = `Bearer ${await token()}`;
    },
  };
}

async function fromKubeconfigFile(path: string): Promise<ClusterAuth> {
  const text = await readFile(path, 'utf8'); // its error names the path
  let config: any;
  try {
    config = parse(text);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  // Entries are `{ name, <what>: {...} }` in the lists `<what>s`.
  const named = (what: 'context' | 'cluster' | 'user', name: unknown): Record<string, any> => {
    const entry = ((config?.[`${what}s`] ?? []) as Array<Record<string, any>>).find((e) => e.name === name);
    if (!entry) throw new Error(`${path}: no ${what} named ${JSON.stringify(name)}`);
    return entry[what] ?? {};
  };
  const context = named('context', config?.['current-context']);
  const cluster = named('cluster', context.cluster);
  const user = context.user ? named('user', context.user) : {};
  if (user.exec || user['auth-provider']) return fromClientNode(path);
  if (typeof cluster.server !== 'string') throw new Error(`${path}: cluster ${context.cluster} has no server`);
  // Relative file paths in a kubeconfig are relative to the kubeconfig itself.
  const file = (p: string) => readFile(isAbsolute(p) ? p : join(dirname(path), p));
  const data = (inline: unknown, filePath: unknown): Promise<Buffer> | undefined =>
    typeof inline === 'string'
      ? Promise.resolve(Buffer.from(inline, 'base64'))
      : typeof filePath === 'string'
        ? file(filePath)
        : undefined;
  const ca = data(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = data(user['client-certificate-data'], user['client-certificate']);
  const key = data(user['client-key-data'], user['client-key']);
  const tokenFile = typeof user.tokenFile === 'string' ? user.tokenFile : undefined;
  const token = tokenFile
    ? rereadEvery(60_000, async () => (await file(tokenFile)).toString().trim())
    : typeof user.token === 'string'
      ? async () => user.token as string
      : undefined;
  return {
    server: cluster.server,
    async apply(options) {
      if (ca) options.ca = await ca;
      if (cluster['insecure-skip-tls-verify'] === true) options.rejectUnauthorized = false;
      if (typeof cluster['tls-server-name'] === 'string') options.servername = cluster['tls-server-name'];
      if (cert && key) [options.cert, options.key] = await Promise.all([cert, key]);
      if (token) options.headers.authorization = `Bearer ${await token()}`;
      else if (typeof user.username === 'string') options.auth = `${user.username}:${user.password ?? ''}`;
    },
  };
}

/** client-node's KubeConfig, for exec plugins and auth providers; loaded only for them. */
async function fromClientNode(path: string): Promise<ClusterAuth> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return clusterAuthOf(kc);
}

/** A client-node KubeConfig as ClusterAuth (tests build theirs with client-node). */
export function clusterAuthOf(kc: KubeConfig): ClusterAuth {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return {
    server: cluster.server,
    apply: async (options) => {
      await kc.applyToHTTPSOptions(options);
    },
  };
}

/** A value read again once it is older than `ms`. */
function rereadEvery<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let cached: { value: Promise<T>; at: number } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > ms) {
      const value = read();
      cached = { value, at: Date.now() };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
}
