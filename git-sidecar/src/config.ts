/** Command-line flags of the sidecar (each also settable as an environment variable GCO_SIDECAR_<FLAG>; flags.ts). */
import { type ListenAddress, parseDurationFlag, parseListenAddress, parseLogLevel, readFlags } from '@gco/common/flags';
import type { Level } from '@gco/common/logger';

export interface SidecarConfig {
  socketPath: string;
  socketMode: number;
  tcp: { host: string; port: number } | undefined;
  /** Where /metrics is served; undefined when turned off with --metrics-address=0. */
  metricsAddress: ListenAddress | undefined;
  dataDir: string;
  allowFileUrls: boolean;
  diskBudgetBytes: number;
  maxFileBytes: number;
  maxJobBytes: number;
  maxOperations: number;
  gitTimeoutMs: number;
  jobTimeoutMs: number;
  maxPushAttempts: number;
  concurrency: number;
  maxBatch: number;
  maintenanceIntervalMs: number;
  executionSearchDepth: number;
  logLevel: Level;
}

const flags = {
  socket: { type: 'string', default: '/var/run/gco/sidecar.sock' },
  'socket-mode': { type: 'string', default: '0660' },
  'listen-tcp': { type: 'string', default: '' },
  'metrics-address': { type: 'string', default: ':8082' },
  'data-dir': { type: 'string', default: '/var/lib/gco' },
  'allow-file-urls': { type: 'boolean', default: false },
  'disk-budget': { type: 'string', default: '0' },
  'max-file-size': { type: 'string', default: '10Mi' },
  'max-job-size': { type: 'string', default: '64Mi' },
  'max-operations': { type: 'string', default: '10000' },
  'git-timeout': { type: 'string', default: '120s' },
  'job-timeout': { type: 'string', default: '300s' },
  'max-push-attempts': { type: 'string', default: '20' },
  concurrency: { type: 'string', default: '4' },
  'max-batch': { type: 'string', default: '200' },
  'maintenance-interval': { type: 'string', default: '1h' },
  'execution-search-depth': { type: 'string', default: '1000' },
  'log-level': { type: 'string', default: 'info' },
} as const;

const units: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

export function parseBytes(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G)?$/.exec(text.trim());
  if (!m) throw new Error(`--${flag}: ${JSON.stringify(text)} is not a size (examples: 1048576, 512Mi, 10Gi)`);
  return Math.floor(Number(m[1]) * (units[m[2] ?? ''] ?? 1));
}

function parseCount(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${flag}: must be a whole number >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  const flag = readFlags(flags, argv, env, 'GCO_SIDECAR_');
  const get = flag.string;
  const tcp = get('listen-tcp') ? parseListenAddress('listen-tcp', get('listen-tcp')) : undefined;
  return {
    socketPath: get('socket'),
    metricsAddress: parseListenAddress('metrics-address', get('metrics-address'), { allowOff: true }),
    socketMode: Number.parseInt(get('socket-mode'), 8),
    // Development only: loopback unless a host is named.
    tcp: tcp && { host: tcp.host ?? '127.0.0.1', port: tcp.port },
    dataDir: get('data-dir'),
    allowFileUrls: flag.boolean('allow-file-urls'),
    diskBudgetBytes: parseBytes('disk-budget', get('disk-budget')),
    maxFileBytes: parseBytes('max-file-size', get('max-file-size')),
    maxJobBytes: parseBytes('max-job-size', get('max-job-size')),
    maxOperations: parseCount('max-operations', get('max-operations')),
    gitTimeoutMs: parseDurationFlag('git-timeout', get('git-timeout')),
    jobTimeoutMs: parseDurationFlag('job-timeout', get('job-timeout')),
    maxPushAttempts: parseCount('max-push-attempts', get('max-push-attempts')),
    concurrency: parseCount('concurrency', get('concurrency')),
    maxBatch: parseCount('max-batch', get('max-batch')),
    maintenanceIntervalMs: parseDurationFlag('maintenance-interval', get('maintenance-interval')),
    executionSearchDepth: parseCount('execution-search-depth', get('execution-search-depth')),
    logLevel: parseLogLevel(get('log-level')),
  };
}
