/**
 * The operator process: flags, Kubernetes client, leader election, controllers, health endpoints,
 * graceful shutdown. See operator/README.md.
 */

import { createSidecarClient } from '@gco/git-sidecar/client';
import { createRegistry, startMetricsServer, startTracing } from '@gco/git-sidecar/telemetry';
import { parseConfig } from './config.ts';
import { informersFor, secretType } from './controllers/execution/controller.ts';
import { ExecutionMetrics } from './controllers/execution/metrics.ts';
import { gitCommitController } from './controllers/gitcommit/controller.ts';
import { pullRequestController } from './controllers/pullrequest/controller.ts';
import { createLogger } from './logger.ts';
import { redactCredentials } from './redaction.ts';
import { type ClusterAuth, loadClusterAuth } from './runtime/cluster-auth.ts';
import { EventRecorder } from './runtime/events.ts';
import { startHealthServer } from './runtime/health.ts';
import { KubeClient } from './runtime/kube-client.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { RuntimeMetrics } from './runtime/metrics.ts';
import { Discovery, type KubeObject } from './runtime/resources.ts';

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`git-change-operator: ${(error as Error).message}\n`);
  process.exit(2);
}
const logger = createLogger({ level: config.logLevel, component: 'operator', redact: redactCredentials });
// First, so that everything after runs with the tracer (a no-op unless OTEL_* asks for export).
const tracing = await startTracing({ serviceName: 'git-change-operator', logger, redact: redactCredentials });
const registry = createRegistry();
const metrics = { runtime: new RuntimeMetrics(registry), executions: new ExecutionMetrics(registry) };
let auth: ClusterAuth;
try {
  auth = await loadClusterAuth({ kubeconfig: config.kubeconfig });
} catch (error) {
  process.stderr.write(`git-change-operator: --kubeconfig: ${(error as Error).message}\n`);
  process.exit(2);
}
const client = new KubeClient(auth);
const events = new EventRecorder(client, 'git-change-operator', logger);

const secrets = informersFor<KubeObject>(client, secretType, config.namespaces, logger);
const settings = {
  client,
  discovery: new Discovery(client),
  trustedNamespaces: new Set(config.trustedNamespaces),
  allowSecretExport: config.allowSecretExport,
  allowFileUrls: config.allowFileUrls,
  defaultAuthor: config.defaultAuthor,
  sidecar: createSidecarClient({ socketPath: config.sidecarSocket }),
  executionTimeoutMs: config.executionTimeoutMs,
  githubApiUrl: config.githubApiUrl,
};
const common = {
  client,
  events,
  namespaces: config.namespaces,
  secrets,
  concurrency: config.concurrency,
  resyncMs: config.resyncPeriodMs,
  logger,
  settings,
  metrics,
};
const kinds = [gitCommitController(common), pullRequestController(common)];
const controllers = kinds.map((k) => k.controller);
const informers = kinds.map((k) => k.informers);

const elector = config.leaderElect
  ? new LeaderElector(client, { namespace: config.leaderElectionNamespace, name: config.leaderElectionId, logger })
  : undefined;
let started = false;
RuntimeMetrics.leader(registry, () => (elector ? elector.isLeader : started));
const metricsServer = config.metricsAddress
  ? await startMetricsServer({ ...config.metricsAddress, registry, logger })
  : undefined;
const health = await startHealthServer({
  ...config.healthAddress,
  ready: () => (started ? informers.every((i) => i.hasSynced) && secrets.hasSynced : elector !== undefined),
});
logger.info('starting', {
  namespaces: config.namespaces.length > 0 ? config.namespaces : 'all',
  trustedNamespaces: config.trustedNamespaces,
  leaderElection: config.leaderElect,
  healthPort: health.port,
  metricsPort: metricsServer?.port,
  tracing: tracing.enabled,
});

let stopping = false;
async function shutdown(signal: string, code = 0) {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down: finishing in-flight reconciles', { signal });
  await Promise.all(controllers.map((c) => c.stop()));
  for (const i of informers) i.stop();
  secrets.stop();
  await elector?.release();
  health.close();
  await metricsServer?.close();
  await tracing.shutdown();
  logger.info('stopped');
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

if (elector) await elector.acquire(() => void shutdown('lost leadership', 1));
if (!stopping) {
  await secrets.start();
  await Promise.all(informers.map((i) => i.start()));
  for (const c of controllers) c.start();
  started = true;
  logger.info('controllers started');
}
