/**
 * The operator process: flags, Kubernetes client, leader election, controllers, health endpoints,
 * graceful shutdown. See operator/README.md.
 */

import { createLogger } from '@gco/common/logger';
import { startMemoryRelease } from '@gco/common/memory-release';
import { createRegistry, startMetricsServer, startTracing } from '@gco/common/telemetry';
import { createSidecarClient } from '@gco/sidecar-api';
import { parseConfig } from './config.ts';
import { executionController, informersFor, secretType } from './controllers/execution/controller.ts';
import { ExecutionMetrics } from './controllers/execution/metrics.ts';
import { gitCommits } from './controllers/gitcommit/kind.ts';
import { pullRequests } from './controllers/pullrequest/kind.ts';
import { redactCredentials } from './redaction.ts';
import { type ClusterAuth, loadClusterAuth } from './runtime/cluster-auth.ts';
import { EventRecorder } from './runtime/events.ts';
import { startHealthServer } from './runtime/health.ts';
import { KubeClient } from './runtime/kube-client.ts';
import { LeaderElector, type LostReason } from './runtime/leader-election.ts';
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
// Gives back what a burst grew the heap by, once the process is quiet again (needs --expose-gc).
startMemoryRelease({ logger, registry });
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

// Metadata only: the engine reads a Secret's resourceVersion from the cache (a change re-runs the
// resources using it) and its contents with a GET when an execution needs them.
const secrets = informersFor<KubeObject>(client, secretType, config.namespaces, logger, 0, {
  metadataOnly: true,
  metrics: metrics.runtime.informer(secretType.kind),
});
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
const kinds = [executionController(gitCommits, common), executionController(pullRequests, common)];
const controllers = kinds.map((k) => k.controller);
const informers = kinds.map((k) => k.informers);

const elector = config.leaderElect
  ? new LeaderElector(client, {
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      ...config.leaderElection,
      logger,
    })
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

/**
 * The longest a shutdown may take. In-flight work is cancelled, not awaited to its end, so this is short,
 * whatever --execution-timeout is; see "Shutdown and timeouts" in operator/README.md for how it fits the
 * pod's terminationGracePeriodSeconds.
 */
const shutdownBoundMs = 10_000;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  // Past the bound, exit without releasing the Lease: the standby then waits for it to expire.
  setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting', { boundMs: shutdownBoundMs });
    process.exit(1);
  }, shutdownBoundMs).unref();
  logger.info('shutting down: cancelling in-flight reconciles', { signal });
  // Stops the queues and aborts every reconcile's signal (API reads, sidecar calls); an execution cut
  // short stays in status.activeExecution and is continued, same id, by the next leader.
  await Promise.all(controllers.map((c) => c.stop()));
  for (const i of informers) i.stop();
  secrets.stop();
  // Only once nothing guarded by the Lease runs any more (client-go's ReleaseOnCancel).
  await elector?.release();
  health.close();
  await metricsServer?.close();
  await tracing.shutdown();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

/**
 * Another replica may lead from now on: nothing of ours may act any more. In-flight work is aborted at
 * once and the process exits non-zero without waiting for it (as controller-runtime does), so that the
 * kubelet restarts it as a candidate.
 */
function leadershipLost(reason: LostReason) {
  stopping = true;
  for (const c of controllers) void c.stop();
  logger.error('leadership lost: exiting', { reason });
  process.exit(1);
}

const leading = elector ? await elector.acquire(leadershipLost) : true;
if (leading && !stopping) {
  await secrets.start();
  await Promise.all(informers.map((i) => i.start()));
  // A SIGTERM while the caches filled has stopped the controllers already.
  if (!stopping) {
    for (const c of controllers) c.start();
    started = true;
    logger.info('controllers started');
  }
}
