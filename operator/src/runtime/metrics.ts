/**
 * The controller runtime's metrics, the ones controller-runtime and client-go export (reconciles, work
 * queue, leader election, informer lists and watch restarts), under the gco_ prefix. Their labels are
 * the controller's name or the informer's kind (and a reason or result from a fixed set): bounded, never a
 * per-object value.
 */
import { secondsBuckets } from '@gco/common/telemetry';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { InformerMetrics } from './informer.ts';

/** What a WorkQueue reports (client-go's workqueue.MetricsProvider, in short). */
export interface QueueMetrics {
  /** A key was queued (not counted when it was already waiting). */
  added(): void;
  depth(n: number): void;
  /** A failed key was queued again with backoff. */
  retried(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  waited(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked(seconds: number): void;
}

export type ReconcileResult = 'success' | 'requeue' | 'error' | 'terminal';

export interface ControllerMetrics {
  queue: QueueMetrics;
  reconciled(result: ReconcileResult, seconds: number): void;
}

export class RuntimeMetrics {
  private readonly reconciles: Counter<'controller' | 'result'>;
  private readonly reconcileSeconds: Histogram<'controller'>;
  private readonly depth: Gauge<'name'>;
  private readonly adds: Counter<'name'>;
  private readonly retries: Counter<'name'>;
  private readonly queueSeconds: Histogram<'name'>;
  private readonly workSeconds: Histogram<'name'>;
  private readonly watchRestarts: Counter<'kind' | 'reason'>;
  private readonly lists: Counter<'kind'>;
  private readonly listPages: Counter<'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: 'gco_reconcile_total',
      help: 'Reconciles by controller and result (success, requeue, error, terminal).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: 'gco_reconcile_duration_seconds',
      help: 'Time of one reconcile.',
      labelNames: ['controller'],
      buckets: secondsBuckets,
      registers,
    });
    this.depth = new Gauge({
      name: 'gco_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.adds = new Counter({
      name: 'gco_workqueue_adds_total',
      help: 'Keys queued.',
      labelNames: ['name'],
      registers,
    });
    this.retries = new Counter({
      name: 'gco_workqueue_retries_total',
      help: 'Keys queued again with backoff after a failed reconcile.',
      labelNames: ['name'],
      registers,
    });
    this.queueSeconds = new Histogram({
      name: 'gco_workqueue_queue_duration_seconds',
      help: 'Time a key waits in the queue before a worker takes it (the queue latency).',
      labelNames: ['name'],
      buckets: secondsBuckets,
      registers,
    });
    this.workSeconds = new Histogram({
      name: 'gco_workqueue_work_duration_seconds',
      help: 'Time a worker spends on a key.',
      labelNames: ['name'],
      buckets: secondsBuckets,
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'gco_informer_watch_restarts_total',
      help: 'Watches restarted, by kind and reason: timeout (ended by the server on time), watchdog (silent past the bookmark interval), error, gone (410: followed by a list).',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.lists = new Counter({
      name: 'gco_informer_lists_total',
      help: 'Full lists by informers (at start and after a 410 Gone).',
      labelNames: ['kind'],
      registers,
    });
    this.listPages = new Counter({
      name: 'gco_informer_list_pages_total',
      help: 'List requests (pages) made by informers.',
      labelNames: ['kind'],
      registers,
    });
  }

  /** The metrics of the informers of one kind. */
  informer(kind: string): InformerMetrics {
    for (const reason of ['timeout', 'watchdog', 'error', 'gone']) this.watchRestarts.inc({ kind, reason }, 0);
    this.lists.inc({ kind }, 0);
    this.listPages.inc({ kind }, 0);
    return {
      restarted: (reason) => this.watchRestarts.inc({ kind, reason }),
      listed: (pages) => {
        this.lists.inc({ kind });
        this.listPages.inc({ kind }, pages);
      },
    };
  }

  /** The metrics of one controller and its queue. */
  controller(name: string): ControllerMetrics {
    // Every series exists from the start at zero, so rates and alerts work before the first event.
    for (const result of ['success', 'requeue', 'error', 'terminal'])
      this.reconciles.inc({ controller: name, result }, 0);
    this.adds.inc({ name }, 0);
    this.retries.inc({ name }, 0);
    this.depth.set({ name }, 0);
    return {
      reconciled: (result, seconds) => {
        this.reconciles.inc({ controller: name, result });
        this.reconcileSeconds.observe({ controller: name }, seconds);
      },
      queue: {
        added: () => this.adds.inc({ name }),
        depth: (n) => this.depth.set({ name }, n),
        retried: () => this.retries.inc({ name }),
        waited: (seconds) => this.queueSeconds.observe({ name }, seconds),
        worked: (seconds) => this.workSeconds.observe({ name }, seconds),
      },
    };
  }

  /** 1 while this process leads (or runs without leader election), 0 while it stands by. */
  static leader(registry: Registry, isLeader: () => boolean): void {
    new Gauge({
      name: 'gco_leader',
      help: '1 while this replica is the leader (or runs without leader election), 0 while it stands by.',
      registers: [registry],
      collect() {
        this.set(isLeader() ? 1 : 0);
      },
    });
  }
}
