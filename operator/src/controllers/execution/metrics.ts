/**
 * Execution metrics, for both kinds. Labels are the kind and a result or reason from fixed sets (the
 * status reasons), never a resource's name: their number does not grow with the resources.
 */

import { secondsBuckets } from '@gco/common/telemetry';
import { Counter, Histogram, type Registry } from 'prom-client';

export class ExecutionMetrics {
  private readonly executions: Counter<'kind' | 'result'>;
  private readonly retries: Counter<'kind' | 'reason'>;
  private readonly attemptSeconds: Histogram<'kind' | 'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.executions = new Counter({
      name: 'gco_executions_total',
      help: 'Finished executions by kind and result (Committed, UpToDate, PullRequestOpened, …, Failed).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.retries = new Counter({
      name: 'gco_execution_retries_total',
      help: 'Failed attempts that will be retried, by kind and failure reason.',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: 'gco_execution_duration_seconds',
      help: 'Time of one attempt of an execution: reading objects, rendering, the sidecar job (fetch, commit, push).',
      labelNames: ['kind', 'result'],
      buckets: secondsBuckets,
      registers,
    });
  }

  attempted(kind: string, ok: boolean, seconds: number): void {
    this.attemptSeconds.observe({ kind, result: ok ? 'success' : 'failure' }, seconds);
  }

  retrying(kind: string, reason: string): void {
    this.retries.inc({ kind, reason });
  }

  finished(kind: string, result: string): void {
    this.executions.inc({ kind, result });
  }
}
