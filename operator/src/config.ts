/** Command-line flags of the operator (each also settable as GCO_<FLAG> in the environment). */
import { parseArgs } from 'node:util';
import type { Level } from './logger.ts';

export interface OperatorConfig {
  kubeconfig: string | undefined;
  namespaces: string[];
  trustedNamespaces: string[];
  allowSecretExport: boolean;
  allowFileUrls: boolean;
  defaultAuthor: { name: string; email: string };
  sidecarSocket: string;
  concurrency: number;
  executionTimeoutMs: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /** host undefined: every interface, IPv6 and IPv4. */
  healthAddress: { host: string | undefined; port: number };
  /** Where /metrics is served; undefined when turned off with --metrics-address=0. */
  metricsAddress: { host: string | undefined; port: number } | undefined;
  githubApiUrl: string | undefined;
  logLevel: Level;
}

const flags = {
  kubeconfig: { type: 'string', default: '' },
  namespaces: { type: 'string', default: '' },
  'trusted-namespaces': { type: 'string', default: '' },
  'allow-secret-export': { type: 'boolean', default: false },
  'allow-file-urls': { type: 'boolean', default: false },
  'default-author': { type: 'string', default: 'Git Change Operator <git-change-operator@localhost>' },
  'sidecar-socket': { type: 'string', default: '/var/run/gco/sidecar.sock' },
  concurrency: { type: 'string', default: '4' },
  'execution-timeout': { type: 'string', default: '300' },
  'leader-elect': { type: 'boolean', default: false },
  'leader-election-namespace': { type: 'string', default: '' },
  'leader-election-id': { type: 'string', default: 'git-change-operator' },
  'health-address': { type: 'string', default: ':8081' },
  'metrics-address': { type: 'string', default: ':8080' },
  'github-api-url': { type: 'string', default: '' },
  'log-level': { type: 'string', default: 'info' },
} as const;

/** The namespace the operator runs in (the Downward API sets POD_NAMESPACE), as the scenarios expect. */
export const defaultOperatorNamespace = 'git-change-operator-system';

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * `[host]:port`, as controller-runtime's address flags take it. No host means every interface: Node then
 * listens on `::` where IPv6 exists (which takes IPv4 too) and on 0.0.0.0 where it does not, so probes
 * and scrapes work in IPv4, IPv6 and dual-stack clusters.
 */
function parseAddress(flag: string, text: string): { host: string | undefined; port: number } {
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`--${flag}: expected [host]:port, such as :8080, got ${JSON.stringify(text)}`);
  // An IPv6 host is written in brackets ([::1]:8080), as Go's flags take it; Node wants it bare.
  return { host: m[1]?.replace(/^\[(.*)\]$/, '$1') || undefined, port: Number(m[2]) };
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const { values } = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false });
  const get = (name: keyof typeof flags): string | boolean => {
    const fromEnv = env[`GCO_${name.toUpperCase().replaceAll('-', '_')}`];
    const v = values[name];
    if (v !== flags[name].default) return v as string | boolean;
    if (fromEnv !== undefined) return flags[name].type === 'boolean' ? fromEnv === 'true' : fromEnv;
    return flags[name].default;
  };
  const operatorNamespace = env.POD_NAMESPACE || defaultOperatorNamespace;
  const author = /^(.*\S)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(String(get('default-author')));
  if (!author)
    throw new Error(`--default-author: expected 'Name <email>', got ${JSON.stringify(get('default-author'))}`);
  const concurrency = Number(get('concurrency'));
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency: a whole number >= 1');
  const timeout = Number(get('execution-timeout'));
  if (!(timeout > 0)) throw new Error('--execution-timeout: seconds, > 0');
  const healthAddress = parseAddress('health-address', String(get('health-address')));
  const metrics = String(get('metrics-address'));
  const level = String(get('log-level'));
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new Error('--log-level: one of debug, info, warn, error');
  const trusted = list(String(get('trusted-namespaces')));
  return {
    kubeconfig: String(get('kubeconfig')) || undefined,
    namespaces: list(String(get('namespaces'))),
    trustedNamespaces: trusted.length > 0 ? trusted : [operatorNamespace],
    allowSecretExport: Boolean(get('allow-secret-export')),
    allowFileUrls: Boolean(get('allow-file-urls')),
    defaultAuthor: { name: author[1] as string, email: author[2] as string },
    sidecarSocket: String(get('sidecar-socket')),
    concurrency,
    executionTimeoutMs: timeout * 1000,
    leaderElect: Boolean(get('leader-elect')),
    leaderElectionNamespace: String(get('leader-election-namespace')) || operatorNamespace,
    leaderElectionId: String(get('leader-election-id')),
    healthAddress,
    metricsAddress: metrics === '0' ? undefined : parseAddress('metrics-address', metrics),
    githubApiUrl: String(get('github-api-url')) || undefined,
    logLevel: level as Level,
  };
}
