/**
 * One prom-client registry per process, not prom-client's global one: a test that starts several
 * components in one process gets separate registries, and nothing registers twice.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry already holding the standard process_* and nodejs_* metrics; ours are named gco_*. */
export function createRegistry(): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  return register;
}

/** Histogram buckets in seconds, 5 ms to about 80 s: a reconcile, a queue wait, a git phase, an execution. */
export const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80];
