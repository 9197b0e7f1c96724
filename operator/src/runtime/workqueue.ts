/**
 * A work queue with client-go's semantics: a key is queued at most once however often it is added; a
 * key being processed is never handed out again until `done`, and if it was added meanwhile it is
 * queued again then; failures back off per key exponentially; a global token bucket limits the rate.
 */
export interface WorkQueueOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Items handed out per second, on average, with bursts up to `burst`. */
  qps: number;
  burst: number;
}

import type { QueueMetrics } from './metrics.ts';

export const defaultQueueOptions: WorkQueueOptions = { baseDelayMs: 5, maxDelayMs: 1000_000, qps: 10, burst: 100 };

export class WorkQueue {
  private readonly opts: WorkQueueOptions;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private closed = false;
  private tokens: number;
  private lastRefill = Date.now();
  private readonly metrics: QueueMetrics | undefined;
  /** For the metrics: when a key was added (the wait starts), and when a worker took it. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();

  constructor(opts: Partial<WorkQueueOptions> = {}, metrics?: QueueMetrics) {
    this.opts = { ...defaultQueueOptions, ...opts };
    this.tokens = this.opts.burst;
    this.metrics = metrics;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    this.metrics?.added();
    // A key being worked on is queued again by done().
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Hands a dirty key to a waiting worker, or queues it. */
  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.take(key);
      waiter(key);
    } else {
      this.queue.push(key);
      this.metrics?.depth(this.queue.length);
    }
  }

  /** Marks a key as being worked on. */
  private take(key: string): void {
    this.processing.add(key);
    const now = performance.now();
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.metrics?.waited((now - added) / 1000);
    this.startedAt.set(key, now);
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Adds the key after its per-key exponential backoff; returns the delay used. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics?.retried();
    const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on, or undefined once the queue is shut down. */
  async get(): Promise<string | undefined> {
    await this.takeToken();
    if (this.closed) return undefined;
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.metrics?.depth(this.queue.length);
      this.take(key);
      return key;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.metrics?.worked((performance.now() - started) / 1000);
    if (this.dirty.has(key)) this.enqueue(key);
  }

  shutDown(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private async takeToken(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.opts.qps);
      this.lastRefill = now;
      if (this.tokens >= 1 || this.closed) {
        this.tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.opts.qps) * 1000)));
    }
  }
}
