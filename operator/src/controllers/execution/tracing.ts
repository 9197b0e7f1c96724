/**
 * One execution is one trace, across its attempts and both processes: the first attempt's trace context
 * is kept in status.activeExecution.traceparent, and later attempts (after a backoff, or an operator
 * restart) join it, linking the reconcile that ran them. From the tenth attempt on (backoff grows to
 * minutes) each attempt starts a trace of its own that links the first: a trace that spans hours is one
 * trace backends show poorly.
 */
import { inSpan } from '@gco/common/telemetry';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { ActiveExecution } from '../../api/v1/status.ts';
import type { Executable } from './executable.ts';

/** Attempts of one execution that share its first attempt's trace (about 40 minutes of default backoff). */
const attemptsInOneTrace = 10;

/** The W3C traceparent of the active span, when tracing is on (the no-op propagator writes nothing). */
export function traceparentOfActiveSpan(): { traceparent?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent } : {};
}

/** Runs one attempt of `active` in its `execution` span. */
export function inExecutionSpan<R>(
  kind: string,
  obj: Executable,
  active: ActiveExecution,
  attempt: () => Promise<R>,
): Promise<R> {
  const attributes = {
    'gco.kind': kind,
    'k8s.namespace.name': obj.metadata.namespace ?? '',
    'gco.name': obj.metadata.name,
    'gco.execution.id': active.id,
    'gco.execution.trigger': active.trigger,
    'gco.execution.attempt': active.attempts + 1,
  };
  const reconcileSpan = trace.getActiveSpan()?.spanContext();
  const firstContext = active.traceparent
    ? trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: active.traceparent }))
    : undefined;
  const join = firstContext !== undefined && active.attempts < attemptsInOneTrace;
  return context.with(join ? trace.setSpanContext(context.active(), firstContext) : context.active(), () =>
    inSpan('execution', attributes, (span) => {
      const link = join ? reconcileSpan : firstContext;
      if (link && link.traceId !== span.spanContext().traceId) span.addLink({ context: link });
      return attempt();
    }),
  );
}

/** Records how the attempt running now ended, on its span. */
export function resultRecorder(): (result: string) => void {
  const span = trace.getActiveSpan();
  return (result) => span?.setAttribute('gco.result', result);
}
