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
