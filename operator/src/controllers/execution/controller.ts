/** Wires a controller for a kind whose resources run executions: informers, Secret watch, engine. */
import type { Logger } from '@gco/common/logger';
import { Controller, keyOf } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { Index } from '../../runtime/index.ts';
import { Informer, type InformerOptions, InformerSet } from '../../runtime/informer.ts';
import { isNotFound, type KubeClient, metadataOnlyAccept } from '../../runtime/kube-client.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';
import type { KubeObject, ResourceType } from '../../runtime/resources.ts';
import { type EngineOptions, type Executable, ExecutionEngine } from './engine.ts';
import type { ExecutionMetrics } from './metrics.ts';

export const secretType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
};

/** controller-runtime's default SyncPeriod. */
export const defaultResyncMs = 10 * 60_000;

/** One informer per watched namespace, or one for all namespaces. */
export function informersFor<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  namespaces: string[],
  logger: Logger,
  resyncMs = 0,
  more: Pick<InformerOptions<T>, 'metadataOnly' | 'metrics'> = {},
): InformerSet<T> {
  const list = namespaces.length > 0 ? namespaces : [undefined];
  return new InformerSet(
    list.map((namespace) => new Informer<T>(client, type, { namespace, logger, resyncMs, ...more })),
  );
}

export interface ExecutionControllerOptions<T extends Executable> {
  name: string;
  type: ResourceType;
  client: KubeClient;
  events: EventRecorder;
  namespaces: string[];
  secrets: InformerSet<KubeObject>;
  concurrency: number;
  /** Every resource is reconciled again this often though nothing changed (0: never). */
  resyncMs?: number;
  logger: Logger;
  publish: EngineOptions<T>['publish'];
  phases: EngineOptions<T>['phases'];
  metrics?: { runtime: RuntimeMetrics; executions: ExecutionMetrics };
}

export function executionController<T extends Executable>(opts: ExecutionControllerOptions<T>) {
  const informers = informersFor<T>(
    opts.client,
    opts.type,
    opts.namespaces,
    opts.logger,
    opts.resyncMs ?? defaultResyncMs,
    { metrics: opts.metrics?.runtime.informer(opts.type.kind) },
  );
  const engine = new ExecutionEngine<T>({
    client: opts.client,
    type: opts.type,
    events: opts.events,
    secretVersion: {
      cached: (obj) => {
        const name = obj.spec.auth?.secretName;
        return name ? (opts.secrets.get(`${obj.metadata.namespace}/${name}`)?.metadata.resourceVersion ?? '') : '';
      },
      live: async (obj, signal) => {
        const name = obj.spec.auth?.secretName;
        return name
          ? ((await secretMetadata(opts.client, obj.metadata.namespace ?? '', name, signal))?.resourceVersion ?? '')
          : '';
      },
    },
    publish: opts.publish,
    phases: opts.phases,
    metrics: opts.metrics?.executions,
  });
  const controller = new Controller<T>({
    name: opts.name,
    informer: informers,
    reconcile: (obj, ctx) => engine.reconcile(obj, ctx),
    concurrency: opts.concurrency,
    logger: opts.logger,
    metrics: opts.metrics?.runtime.controller(opts.name),
  });
  // A changed auth Secret re-runs the resources that use it, found through an index (Secret -> users).
  const bySecret = new Index<T>(informers, (obj) =>
    obj.spec.auth?.secretName ? [`${obj.metadata.namespace}/${obj.spec.auth.secretName}`] : [],
  );
  controller.watches(opts.secrets, (secret) => bySecret.keys(keyOf(secret)));
  return { controller, informers };
}

/**
 * A Secret's metadata as the API server has it now, without its data (PartialObjectMetadata); undefined
 * when it does not exist.
 */
async function secretMetadata(client: KubeClient, namespace: string, name: string, signal?: AbortSignal) {
  try {
    const secret = await client.get<KubeObject>(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      { accept: metadataOnlyAccept.object, signal },
    );
    return secret.metadata;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
