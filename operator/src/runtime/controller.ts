/**
 * A controller in the controller-runtime mould, with kube-rs ergonomics: a reconciler is a plain async
 * function of (object, context) that returns an action; a thrown error means "back off and retry", a
 * TerminalError means "do not retry until the object changes". The controller knows nothing of the kinds
 * it reconciles.
 *
 * - One informer for the primary kind; changes to it enqueue its key. `watches()` maps changes of other
 *   kinds to primary keys (a Secret to the resources that use it).
 * - A de-duplicating, rate-limited work queue; `concurrency` workers; never two reconciles of one key.
 */

import type { Logger } from '@gco/common/logger';
import { recordFailure, tracer } from '@gco/common/telemetry';
import type { ChangeHandler } from './informer.ts';
import type { ControllerMetrics, ReconcileResult } from './metrics.ts';
import type { KubeObject } from './resources.ts';
import { WorkQueue, type WorkQueueOptions } from './workqueue.ts';

export interface Action {
  /** Reconcile again after this long (a schedule tick, a retry the reconciler times itself). */
  requeueAfterMs?: number;
}
export const done: Action = {};
export const requeueAfter = (ms: number): Action => ({ requeueAfterMs: ms });

/** An error retrying cannot fix: logged and left until the object changes. */
export class TerminalError extends Error {}

export interface ReconcileContext {
  key: string;
  logger: Logger;
  /** Failed attempts of this key since its last success. */
  failures: number;
  signal: AbortSignal;
}

export type Reconciler<T> = (obj: T, ctx: ReconcileContext) => Promise<Action>;

/** Where objects come from: an Informer, or an InformerSet over several namespaces. */
export interface Source<T> {
  get(key: string): T | undefined;
  onChange(handler: ChangeHandler<T>): void;
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  informer: Source<T>;
  reconcile: Reconciler<T>;
  concurrency?: number;
  queue?: Partial<WorkQueueOptions>;
  logger: Logger;
  /** Reconcile and work queue metrics (RuntimeMetrics.controller). */
  metrics?: ControllerMetrics;
}

export class Controller<T extends KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions<T>;
  private readonly abort = new AbortController();
  private workers: Array<Promise<void>> = [];

  constructor(opts: ControllerOptions<T>) {
    this.opts = opts;
    this.name = opts.name;
    this.queue = new WorkQueue(opts.queue, opts.metrics?.queue);
    opts.informer.onChange((type, obj, old) => {
      if (type === 'deleted') return;
      // Status-only updates (ours) do not change metadata.generation or annotations: skip them.
      if (type === 'updated' && old && old !== obj && !changedForController(old, obj)) return;
      this.queue.add(keyOf(obj));
    });
  }

  /** Enqueues the primary keys that `map` returns for every change of another kind. */
  watches<S extends KubeObject>(informer: Source<S>, map: (obj: S) => string[]): this {
    informer.onChange((_type, obj) => {
      for (const key of map(obj)) this.queue.add(key);
    });
    return this;
  }

  /** Starts the workers; resolves when the controller is stopped and in-flight reconciles are done. */
  start(): void {
    const n = this.opts.concurrency ?? 1;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const obj = this.opts.informer.get(key);
    if (!obj || obj.metadata.deletionTimestamp) {
      this.queue.forget(key);
      return;
    }
    // Every line logged for this object names it; spans inside the reconcile are children of its span.
    const logger = this.opts.logger.child({
      controller: this.name,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    });
    const started = performance.now();
    const observe = (result: ReconcileResult) =>
      this.opts.metrics?.reconciled(result, (performance.now() - started) / 1000);
    const ctx: ReconcileContext = { key, logger, failures: this.queue.failureCount(key), signal: this.abort.signal };
    const attributes = {
      'gco.controller': this.name,
      'k8s.namespace.name': obj.metadata.namespace ?? '',
      'gco.name': obj.metadata.name,
    };
    // The outcome is logged inside the span, so that its lines carry the reconcile's trace id.
    await tracer().startActiveSpan(`reconcile ${this.name}`, { attributes }, async (span) => {
      try {
        const action = await this.opts.reconcile(obj, ctx);
        this.queue.forget(key);
        if (action.requeueAfterMs !== undefined) this.queue.addAfter(key, action.requeueAfterMs);
        observe(action.requeueAfterMs !== undefined ? 'requeue' : 'success');
      } catch (error) {
        recordFailure(span, error);
        if (error instanceof TerminalError) {
          this.queue.forget(key);
          logger.error('reconcile failed; not retrying until the object changes', { error });
          observe('terminal');
          return;
        }
        const delay = this.queue.addRateLimited(key);
        logger.warn('reconcile failed; retrying', { error, retryInMs: delay });
        observe('error');
      } finally {
        span.end();
      }
    });
  }
}

export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** A change worth reconciling: the spec (generation), labels or annotations, or a resync. */
function changedForController(old: KubeObject, obj: KubeObject): boolean {
  if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return true; // a resync
  if (old.metadata.generation !== obj.metadata.generation) return true;
  if (obj.metadata.generation === undefined) return true; // kinds without generation: any change
  return (
    JSON.stringify(old.metadata.annotations ?? {}) !== JSON.stringify(obj.metadata.annotations ?? {}) ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(obj.metadata.labels ?? {})
  );
}
