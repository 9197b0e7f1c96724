/** Wires a controller for a kind whose resources run executions: informers, Secret watch, engine. */
import type { Logger } from '../../logger.ts';
import { Controller, keyOf } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { Informer, type InformerOptions, InformerSet } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
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
  logger: Logger;
  publish: EngineOptions<T>['publish'];
  phases: EngineOptions<T>['phases'];
  metrics?: { runtime: RuntimeMetrics; executions: ExecutionMetrics };
}

export function executionController<T extends Executable>(opts: ExecutionControllerOptions<T>) {
  const informers = informersFor<T>(opts.client, opts.type, opts.namespaces, opts.logger, 10 * 60_000, {
    metrics: opts.metrics?.runtime.informer(opts.type.kind),
  });
  const engine = new ExecutionEngine<T>({
    client: opts.client,
    type: opts.type,
    events: opts.events,
    secretVersion: (obj) => {
      const name = obj.spec.auth?.secretName;
      return name ? (opts.secrets.get(`${obj.metadata.namespace}/${name}`)?.metadata.resourceVersion ?? '') : '';
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
  // A changed auth Secret re-runs the resources that use it.
  controller.watches(opts.secrets, (secret) =>
    informers
      .list()
      .filter(
        (o) => o.metadata.namespace === secret.metadata.namespace && o.spec.auth?.secretName === secret.metadata.name,
      )
      .map(keyOf),
  );
  return { controller, informers };
}
