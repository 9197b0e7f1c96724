/**
 * Gives memory back once a process has gone quiet after a burst of work. V8 grows its heap for a burst
 * and keeps the grown heap, and a pool of the pages it freed, until memory runs short: measured, the
 * operator and the sidecar both idled at their burst's high-water mark for as long as they were left
 * alone (issue 14). A container is charged for that memory all the same. This is what the JVM's G1 does
 * with its periodic collection (JEP 346) and Go's runtime with its background scavenger: when the
 * process is quiet and its heap has grown since the last release, one full collection of the kind V8
 * runs when memory is critical ('last-resort': compacts, shrinks the heap and frees the page pool).
 *
 * Quiet is measured, not declared by callers: the event loop's utilization over the last check period,
 * so neither process has to tell this module what work is. The collection pauses the process for as
 * long as a full GC takes (tens of milliseconds for the operator's cache of 5,000 objects), only after a
 * period in which it was nearly idle, so nothing waits for it in practice.
 *
 * It needs V8's gc function (`--expose-gc`, which the manifests' NODE_OPTIONS give both containers);
 * without it, it says so once and does nothing.
 */
import { performance } from 'node:perf_hooks';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export interface MemoryReleaseOptions {
  logger: Logger;
  /** How often to look; a release needs one whole period of quiet. */
  checkEveryMs?: number;
  /** Event-loop utilization below which a period counts as quiet (0-1). */
  quietBelow?: number;
  /** Growth of V8's committed heap and external memory over the level after the last release, in bytes, that is worth a collection. */
  growthBytes?: number;
  /** Where to count releases (gco_memory_releases_total). */
  registry?: Registry;
}

export interface MemoryRelease {
  stop(): void;
}

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };
type Gc = (options?: GcOptions) => void;

/** What a release would give back: V8's committed heap and the memory its objects hold outside it. */
const held = () => {
  const m = process.memoryUsage();
  return m.heapTotal + m.external;
};
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export function startMemoryRelease(opts: MemoryReleaseOptions): MemoryRelease {
  const gc = (globalThis as { gc?: Gc }).gc;
  const checkEveryMs = opts.checkEveryMs ?? 15_000;
  const quietBelow = opts.quietBelow ?? 0.05;
  const growthBytes = opts.growthBytes ?? 8 * 2 ** 20;
  if (!gc) {
    opts.logger.info('memory is not released after bursts: start Node with --expose-gc (the manifests do)');
    return { stop() {} };
  }
  const releases = opts.registry
    ? new Counter({
        name: 'gco_memory_releases_total',
        help: 'Full collections run to give memory back after a burst, once the process was quiet.',
        registers: [opts.registry],
      })
    : undefined;
  let baseline = held();
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const before = held();
    if (utilization >= quietBelow || before - baseline < growthBytes) return;
    const rssBefore = process.memoryUsage.rss();
    const start = performance.now();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    baseline = held();
    // The collection itself must not count as work in the next period.
    last = performance.eventLoopUtilization();
    releases?.inc();
    opts.logger.debug('memory released after a burst', {
      heapAndExternalMb: `${mb(before)} -> ${mb(baseline)}`,
      rssMb: `${mb(rssBefore)} -> ${mb(process.memoryUsage.rss())}`,
      ms: Math.round(performance.now() - start),
    });
  }, checkEveryMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
