/**
 * A work queue with client-go's semantics: a key is queued at most once however often it is added; a
 * key being processed is never handed out again until `done`, and if it was added meanwhile it is
 * queued again then.
 *
 * Only failures are rate-limited, as in client-go's DefaultControllerRateLimiter: `addRateLimited`
 * delays a key by the larger of its own exponential backoff and the overall token bucket's wait.
 * `add` (a new event, a resync) and `get` are never throttled: 5,000 objects after a restart or a
 * resync are worked off as fast as the workers go, and a user's change is never queued behind a
 * bucket refilled at 10/s.
 */
import type { QueueMetrics } from './metrics.ts';

export interface WorkQueueOptions {
  /** Per-key backoff: base * 2^failures, capped (client-go: 5 ms to 1000 s). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Retries admitted per second overall, on average, with bursts up to `burst` (client-go: 10, 100). */
  qps: number;
  burst: number;
}

export const defaultQueueOptions: WorkQueueOptions = { baseDelayMs: 5, maxDelayMs: 1000_000, qps: 10, burst: 100 };

/**
 * A token bucket that hands out reservations, as golang.org/x/time/rate's `Reserve`: the caller is told
 * how long to wait for its token instead of waiting, so tokens may go negative and later callers queue
 * behind earlier ones.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = Date.now) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  /** Takes one token; returns how many milliseconds from now it becomes available (0: at once). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
}

export class WorkQueue {
  private readonly opts: WorkQueueOptions;
  private readonly queue: string[] = [];
  /** Index of the next key in `queue`: shifting a 5,000-element array per get() is O(n). */
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private closed = false;
  private readonly bucket: TokenBucket;
  private readonly metrics: QueueMetrics | undefined;
  /** For the metrics: when a key was added (the wait starts), and when a worker took it. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();

  constructor(opts: Partial<WorkQueueOptions> = {}, metrics?: QueueMetrics) {
    this.opts = { ...defaultQueueOptions, ...opts };
    this.bucket = new TokenBucket(this.opts.qps, this.opts.burst);
    this.metrics = metrics;
  }

  get length(): number {
    return this.queue.length - this.head;
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
      this.metrics?.depth(this.length);
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

  /**
   * Adds the key after a failure: after the larger of its per-key exponential backoff and the overall
   * bucket's wait (client-go's MaxOf(ItemExponentialFailureRateLimiter, BucketRateLimiter)). Returns
   * the delay used.
   */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics?.retried();
    const delay = Math.max(Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** n), this.bucket.reserve());
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
    if (this.closed) return undefined;
    if (this.length > 0) {
      const key = this.queue[this.head++] as string;
      // Compact once the consumed prefix dominates, so the array does not grow for ever.
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.metrics?.depth(this.length);
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
}
