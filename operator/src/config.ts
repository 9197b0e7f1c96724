/** Command-line flags of the operator (each also settable as GCO_<FLAG> in the environment; flags.ts). */
import { type ListenAddress, parseDurationFlag, parseListenAddress, parseLogLevel, readFlags } from '@gco/common/flags';
import type { Level } from '@gco/common/logger';
import { parseAuthor } from '@gco/common/validation';
import { validateTimings } from './runtime/leader-election.ts';

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
  /** How often every cached resource is reconciled again though nothing changed; 0: never. */
  resyncPeriodMs: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /** client-go's LeaseDuration, RenewDeadline and RetryPeriod. */
  leaderElection: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  healthAddress: ListenAddress;
  /** Where /metrics is served; undefined when turned off with --metrics-address=0. */
  metricsAddress: ListenAddress | undefined;
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
  concurrency: { type: 'string', default: '64' },
  'execution-timeout': { type: 'string', default: '300' },
  'resync-period': { type: 'string', default: '10m' },
  'leader-elect': { type: 'boolean', default: false },
  'leader-election-namespace': { type: 'string', default: '' },
  'leader-election-id': { type: 'string', default: 'git-change-operator' },
  // Named as kube-controller-manager names them; seconds, as --execution-timeout.
  'leader-elect-lease-duration': { type: 'string', default: '15' },
  'leader-elect-renew-deadline': { type: 'string', default: '10' },
  'leader-elect-retry-period': { type: 'string', default: '2' },
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

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const flag = readFlags(flags, argv, env, 'GCO_');
  const get = flag.string;
  const operatorNamespace = env.POD_NAMESPACE || defaultOperatorNamespace;
  const defaultAuthor = parseAuthor(get('default-author'));
  if (!defaultAuthor)
    throw new Error(`--default-author: expected 'Name <email>', got ${JSON.stringify(get('default-author'))}`);
  const concurrency = Number(get('concurrency'));
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency: a whole number >= 1');
  const timeout = Number(get('execution-timeout'));
  if (!(timeout > 0)) throw new Error('--execution-timeout: seconds, > 0');
  const trusted = list(get('trusted-namespaces'));
  const seconds = (
    name: 'leader-elect-lease-duration' | 'leader-elect-renew-deadline' | 'leader-elect-retry-period',
  ) => {
    const value = Number(get(name));
    if (!(value > 0)) throw new Error(`--${name}: seconds, > 0`);
    return Math.round(value * 1000);
  };
  const leaderElection = {
    leaseDurationMs: seconds('leader-elect-lease-duration'),
    renewDeadlineMs: seconds('leader-elect-renew-deadline'),
    retryPeriodMs: seconds('leader-elect-retry-period'),
  };
  try {
    validateTimings(leaderElection);
  } catch (error) {
    throw new Error(`--leader-elect-*: ${(error as Error).message}`);
  }
  return {
    kubeconfig: get('kubeconfig') || undefined,
    namespaces: list(get('namespaces')),
    trustedNamespaces: trusted.length > 0 ? trusted : [operatorNamespace],
    allowSecretExport: flag.boolean('allow-secret-export'),
    allowFileUrls: flag.boolean('allow-file-urls'),
    defaultAuthor,
    sidecarSocket: get('sidecar-socket'),
    concurrency,
    executionTimeoutMs: timeout * 1000,
    resyncPeriodMs: parseDurationFlag('resync-period', get('resync-period'), { allowOff: true }),
    leaderElect: flag.boolean('leader-elect'),
    leaderElectionNamespace: get('leader-election-namespace') || operatorNamespace,
    leaderElectionId: get('leader-election-id'),
    leaderElection,
    healthAddress: parseListenAddress('health-address', get('health-address')),
    metricsAddress: parseListenAddress('metrics-address', get('metrics-address'), { allowOff: true }),
    githubApiUrl: get('github-api-url') || undefined,
    logLevel: parseLogLevel(get('log-level')),
  };
}
