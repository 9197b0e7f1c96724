/**
 * The git sidecar process. See git-sidecar/README.md for what it does and its flags.
 */
import { createLogger } from '@gco/common/logger';
import { startMemoryRelease } from '@gco/common/memory-release';
import { createRegistry, startMetricsServer, startTracing } from '@gco/common/telemetry';
import { pathMaxBytes } from '@gco/common/validation';
import { serverTracingInterceptor } from '@gco/sidecar-api';
import { parseConfig } from './config.ts';
import { activeSecretCount, redactActiveSecrets } from './credentials/credentials.ts';
import { BatchExecutor } from './jobs/batch-executor.ts';
import { observeHeld, observeState, SidecarMetrics } from './jobs/metrics.ts';
import { Scheduler } from './jobs/scheduler.ts';
import { listen } from './server.ts';
import { createService } from './service.ts';
import { CloneStore } from './store/clone-store.ts';
import { startMaintenance } from './store/maintenance.ts';

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`git-sidecar: ${(error as Error).message}\n`);
  process.exit(2);
}
const logger = createLogger({ level: config.logLevel, component: 'git-sidecar', redact: redactActiveSecrets });
// First, so that everything after runs with the tracer (a no-op unless OTEL_* asks for export).
const tracing = await startTracing({ serviceName: 'git-sidecar', logger, redact: redactActiveSecrets });
const registry = createRegistry();
// Gives back what a burst grew the heap by, once the process is quiet again (needs --expose-gc).
startMemoryRelease({ logger, registry });

// Constructed in the order they depend on each other: the store, the metrics the executor records, the
// executor, the scheduler, and the gauges that read the scheduler's queues and the store when scraped.
// None of them does anything until the service below hands it a job.
const store = new CloneStore({
  dataDir: config.dataDir,
  diskBudgetBytes: config.diskBudgetBytes,
  gitTimeoutMs: config.gitTimeoutMs,
  logger,
});
const metrics = new SidecarMetrics(registry);
const executor = new BatchExecutor({
  store,
  logger,
  gitTimeoutMs: config.gitTimeoutMs,
  maxPushAttempts: config.maxPushAttempts,
  executionSearchDepth: config.executionSearchDepth,
  backoff: { initialMs: 50, maxMs: 5000 },
  defaultBranchCacheMs: 10 * 60_000,
  metrics,
});
const scheduler = new Scheduler({
  executor,
  concurrency: config.concurrency,
  maxBatch: config.maxBatch,
  onBatch: (batch) => metrics.batchStarted(batch),
  onIdle: async () => {
    try {
      await store.evict((key, task) => scheduler.exclusive(key, task));
    } catch (error) {
      logger.warn('evicting clones failed', { error });
    }
  },
});
observeState(registry, {
  queueDepths: () => scheduler.queueDepths(),
  cloneBytes: () => store.totalBytes(),
  clones: () => store.count(),
});
observeHeld(registry, () => ({
  clones: store.count(),
  ...executor.held(),
  ...scheduler.held(),
  active_secrets: activeSecretCount(),
}));
/**
 * What /readyz answers (the container's readiness probe): true from the moment the gRPC server listens,
 * which is after every clone on the volume was checked, until a SIGTERM starts the drain. A pod is Ready
 * only with its sidecar ready, so a rolling update waits for the new pod's clones to be checked before it
 * replaces the next replica.
 */
let serving = false;
// Before recovery, which checks every clone and can take minutes on a large volume: the liveness probe
// asks this server, and must not restart a sidecar that is busy recovering (/readyz says 503 meanwhile).
const metricsServer = config.metricsAddress
  ? await startMetricsServer({ ...config.metricsAddress, registry, logger, ready: () => serving })
  : undefined;
const recovered = await store.recover();
logger.info('data directory ready', { dataDir: config.dataDir, clones: recovered.checked, removed: recovered.removed });

const maintenance = startMaintenance({
  store,
  scheduler,
  intervalMs: config.maintenanceIntervalMs,
  gitTimeoutMs: config.gitTimeoutMs,
  logger,
});
const service = createService({
  scheduler,
  store,
  limits: {
    maxFileBytes: config.maxFileBytes,
    maxJobBytes: config.maxJobBytes,
    maxOperations: config.maxOperations,
    maxPathBytes: pathMaxBytes,
  },
  allowFileUrls: config.allowFileUrls,
  defaultJobTimeoutMs: config.jobTimeoutMs,
  gitTimeoutMs: config.gitTimeoutMs,
  logger,
  metrics,
});
const listener = await listen(service, {
  socketPath: config.socketPath,
  socketMode: config.socketMode,
  tcp: config.tcp,
  interceptors: [serverTracingInterceptor()],
});
serving = true;
logger.info('serving', {
  socket: config.socketPath,
  tcpPort: listener.tcpPort,
  metricsPort: metricsServer?.port,
  tracing: tracing.enabled,
});

/**
 * The longest the drain after SIGTERM may take: below the pod's terminationGracePeriodSeconds (120 s in
 * manifests/manager/statefulset.yaml), so that the sidecar exits by itself rather than being killed. A
 * batch still running then (its deadline is the operator's --execution-timeout) is cut short; its
 * executions are continued, same ids, after the restart, and the execution trailer lookup finds a push
 * that did land. The operator has usually cancelled its calls and exited long before.
 */
const drainBoundMs = 90_000;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  // Not ready while draining: new jobs are refused from here on (the scheduler is closing).
  serving = false;
  setTimeout(() => {
    logger.warn('running jobs did not finish in time; exiting', { boundMs: drainBoundMs });
    process.exit(1);
  }, drainBoundMs).unref();
  logger.info('shutting down: finishing running jobs', { signal });
  maintenance.stop();
  await scheduler.close();
  await listener.close();
  await metricsServer?.close();
  await tracing.shutdown();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
