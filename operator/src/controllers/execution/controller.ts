/**
 * One wiring for every kind whose resources run executions, as controller-runtime's builder makes one
 * controller per kind: its informers, the Secret watch through an index, the engine, the controller. A
 * kind brings only its API definition, its phases and what it publishes (gitcommit/kind.ts).
 */
import type { Logger } from '@gco/common/logger';
import { group, type KindDefinition, version } from '../../api/v1/meta.ts';
import type { Phases } from '../../api/v1/status.ts';
import { Controller, keyOf } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { Index } from '../../runtime/index.ts';
import { Informer, type InformerOptions, InformerSet } from '../../runtime/informer.ts';
import { isNotFound, type KubeClient, metadataOnlyAccept } from '../../runtime/kube-client.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';
import type { KubeObject, ResourceType } from '../../runtime/resources.ts';
import { ExecutionEngine } from './engine.ts';
import type { Executable, Publish } from './executable.ts';
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

/** A kind whose resources run executions. */
export interface ExecutionKind<T extends Executable, S> {
  /** Its API: the REST resource, and the controller's name (the singular: gitcommit). */
  definition: Pick<KindDefinition, 'kind' | 'plural' | 'singular'>;
  phases: Phases;
  /** What one attempt of an execution publishes, with the operator's settings. */
  publish: (settings: S, ...args: Parameters<Publish<T>>) => ReturnType<Publish<T>>;
}

/** The REST resource of a kind, as the generic runtime addresses it. */
export function resourceTypeOf(definition: Pick<KindDefinition, 'kind' | 'plural'>): ResourceType {
  return { group, version, kind: definition.kind, plural: definition.plural, namespaced: true };
}

/** What every execution controller shares: the client, the namespaces, the Secrets, the settings. */
export interface ExecutionControllerOptions<S> {
  client: KubeClient;
  events: EventRecorder;
  namespaces: string[];
  secrets: InformerSet<KubeObject>;
  concurrency: number;
  /** Every resource is reconciled again this often though nothing changed (0: never). */
  resyncMs?: number;
  logger: Logger;
  settings: S;
  metrics?: { runtime: RuntimeMetrics; executions: ExecutionMetrics };
}

export function executionController<T extends Executable, S>(
  kind: ExecutionKind<T, S>,
  opts: ExecutionControllerOptions<S>,
) {
  const name = kind.definition.singular;
  const type = resourceTypeOf(kind.definition);
  const informers = informersFor<T>(opts.client, type, opts.namespaces, opts.logger, opts.resyncMs ?? defaultResyncMs, {
    metrics: opts.metrics?.runtime.informer(type.kind),
  });
  const engine = new ExecutionEngine<T>({
    client: opts.client,
    type,
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
    publish: (obj, ctx) => kind.publish(opts.settings, obj, ctx),
    phases: kind.phases,
    metrics: opts.metrics?.executions,
  });
  const controller = new Controller<T>({
    name,
    informer: informers,
    reconcile: (obj, ctx) => engine.reconcile(obj, ctx),
    concurrency: opts.concurrency,
    logger: opts.logger,
    metrics: opts.metrics?.runtime.controller(name),
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
