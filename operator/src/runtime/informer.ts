/**
 * Keeps a local cache of one kind in sync with the API server and reports every change.
 *
 * It lists, then watches from the listed resourceVersion, so nothing between the two is missed. A watch
 * that ends (the server closes watches every few minutes) is resumed from the last resourceVersion seen;
 * one that fails is retried with backoff; when the server says that resourceVersion is gone (410), it
 * lists again and diffs the new list against the cache, reporting the objects deleted meanwhile as
 * deletions, so no event is lost across a gap, even an API server restart.
 */
import type { Logger } from '../logger.ts';
import { ApiError, isGone, type KubeClient } from './kube-client.ts';
import { collectionPath, type KubeObject, objectKey, type ResourceType } from './resources.ts';

export type ChangeType = 'added' | 'updated' | 'deleted';
export type ChangeHandler<T> = (type: ChangeType, obj: T, old: T | undefined) => void;

interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { code?: number; message?: string; reason?: string };
}

export interface InformerOptions {
  /** Watch one namespace; undefined for all (or a cluster-scoped kind). */
  namespace?: string;
  labelSelector?: string;
  /** Re-report every cached object this often, as `updated` (controller-runtime's resync). 0: never. */
  resyncMs?: number;
  logger: Logger;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions;
  private readonly cache = new Map<string, T>();
  private readonly handlers: Array<ChangeHandler<T>> = [];
  private resourceVersion = '';
  private synced = false;
  private syncedWaiters: Array<() => void> = [];
  private abort = new AbortController();

  constructor(client: KubeClient, type: ResourceType, opts: InformerOptions) {
    this.client = client;
    this.type = type;
    this.opts = opts;
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    void this.run();
    if (this.opts.resyncMs) {
      const timer = setInterval(() => {
        for (const obj of this.cache.values()) this.emit('updated', obj, obj);
      }, this.opts.resyncMs);
      timer.unref();
      this.abort.signal.addEventListener('abort', () => clearInterval(timer));
    }
    if (!this.synced) await new Promise<void>((resolve) => this.syncedWaiters.push(resolve));
  }

  stop(): void {
    this.abort.abort();
    for (const resolve of this.syncedWaiters.splice(0)) resolve();
  }

  private emit(type: ChangeType, obj: T, old: T | undefined): void {
    for (const handler of this.handlers) {
      try {
        handler(type, obj, old);
      } catch (error) {
        this.opts.logger.error('informer handler failed', { kind: this.type.kind, error });
      }
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let needList = true;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.client.watch(
          collectionPath(this.type, this.opts.namespace),
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 240 + Math.floor(Math.random() * 120),
            labelSelector: this.opts.labelSelector,
          },
          (event) => this.apply(event as WatchEvent<T>),
          signal,
        );
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (isGone(error)) {
          needList = true;
          continue;
        }
        failures++;
        const delay = Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
        this.opts.logger.warn('watch failed; retrying', { kind: this.type.kind, error, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') {
      const status = event.object;
      throw new ApiError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error');
    }
    const obj = event.object;
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('deleted', obj, old);
    } else {
      this.cache.set(key, obj);
      this.emit(old ? 'updated' : 'added', obj, old);
    }
  }

  /** Lists everything and reconciles the cache with it, reporting the differences. */
  private async relist(): Promise<void> {
    const list = await this.client.get<{ metadata: { resourceVersion: string }; items: T[] }>(
      collectionPath(this.type, this.opts.namespace),
      { query: { labelSelector: this.opts.labelSelector }, timeoutMs: 60_000 },
    );
    const apiVersion = this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version;
    const seen = new Set<string>();
    for (const item of list.items) {
      // Items of a list carry no apiVersion/kind of their own.
      const obj = { apiVersion, kind: this.type.kind, ...item } as T;
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('added', obj, undefined);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('updated', obj, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('deleted', old, old);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncedWaiters.splice(0)) resolve();
    }
  }
}

/** Several informers of one kind (one per watched namespace) seen as one. */
export class InformerSet<T extends KubeObject = KubeObject> {
  readonly informers: Array<Informer<T>>;
  constructor(informers: Array<Informer<T>>) {
    this.informers = informers;
  }
  get(key: string): T | undefined {
    for (const informer of this.informers) {
      const obj = informer.get(key);
      if (obj) return obj;
    }
    return undefined;
  }
  list(): T[] {
    return this.informers.flatMap((i) => i.list());
  }
  onChange(handler: ChangeHandler<T>): void {
    for (const informer of this.informers) informer.onChange(handler);
  }
  get hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }
  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }
  stop(): void {
    for (const informer of this.informers) informer.stop();
  }
}
