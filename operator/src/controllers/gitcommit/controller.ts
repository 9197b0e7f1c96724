/** Wires the GitCommit controller: its informers, the Secret watch, the execution engine. */
import type { GitCommit } from '../../api/v1/types.ts';
import type { Logger } from '../../logger.ts';
import { Controller, keyOf } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { Informer, InformerSet } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject, ResourceType } from '../../runtime/resources.ts';
import { type Executable, ExecutionEngine } from '../execution/engine.ts';
import { type PublishSettings, publishCommit } from './publish.ts';

export const gitCommitType: ResourceType = {
  group: 'gco.galos.one',
  version: 'v1',
  kind: 'GitCommit',
  plural: 'gitcommits',
  namespaced: true,
};
export const secretType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
};

export type GitCommitObject = GitCommit & Executable & { spec: GitCommit['spec'] };

/** One informer per watched namespace, or one for all namespaces. */
export function informersFor<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  namespaces: string[],
  logger: Logger,
  resyncMs = 0,
): InformerSet<T> {
  const list = namespaces.length > 0 ? namespaces : [undefined];
  return new InformerSet(list.map((namespace) => new Informer<T>(client, type, { namespace, logger, resyncMs })));
}

export function gitCommitController(opts: {
  client: KubeClient;
  events: EventRecorder;
  namespaces: string[];
  secrets: InformerSet<KubeObject>;
  settings: PublishSettings;
  concurrency: number;
  logger: Logger;
}) {
  const informers = informersFor<GitCommitObject>(
    opts.client,
    gitCommitType,
    opts.namespaces,
    opts.logger,
    10 * 60_000,
  );
  const secretVersion = (gc: GitCommitObject) => {
    const name = gc.spec.auth?.secretName;
    return name ? (opts.secrets.get(`${gc.metadata.namespace}/${name}`)?.metadata.resourceVersion ?? '') : '';
  };
  const engine = new ExecutionEngine<GitCommitObject>({
    client: opts.client,
    type: gitCommitType,
    events: opts.events,
    secretVersion,
    publish: (gc, ctx) => publishCommit(opts.settings, gc, ctx),
    phases: { running: 'Running', failed: 'Failed' },
  });
  const controller = new Controller<GitCommitObject>({
    name: 'gitcommit',
    informer: informers,
    reconcile: (gc, ctx) => engine.reconcile(gc, ctx),
    concurrency: opts.concurrency,
    logger: opts.logger,
  });
  // A changed auth Secret re-runs the GitCommits that use it.
  controller.watches(opts.secrets, (secret) =>
    informers
      .list()
      .filter(
        (gc) =>
          gc.metadata.namespace === secret.metadata.namespace && gc.spec.auth?.secretName === secret.metadata.name,
      )
      .map(keyOf),
  );
  return { controller, informers };
}
