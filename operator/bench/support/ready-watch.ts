/**
 * When each GitCommit of a namespace first turned Ready, as seen by a watch of the API server (not by
 * the operator's own account of it): one list, then a watch resumed from the last resourceVersion
 * whenever it ends, so the instants are those of the events, with no polling in between.
 */
import type { ControlPlane } from '@gco/testenv';
import { Watch } from '@kubernetes/client-node';

interface GitCommitLike {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

const isReady = (obj: GitCommitLike) =>
  (obj.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export class ReadyWatch {
  /** performance.now() of the event that first showed each name Ready. */
  private readonly readyAt = new Map<string, number>();
  private readonly plane: ControlPlane;
  private readonly path: string;
  private resourceVersion = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private listeners = new Set<() => void>();

  private constructor(plane: ControlPlane, namespace: string) {
    this.plane = plane;
    this.path = `/apis/gco.galos.one/v1/namespaces/${namespace}/gitcommits`;
  }

  static async start(plane: ControlPlane, namespace: string): Promise<ReadyWatch> {
    const watch = new ReadyWatch(plane, namespace);
    await watch.list();
    void watch.run();
    return watch;
  }

  /** When `name` was first seen Ready (performance.now()), if it has been. */
  readyTime(name: string): number | undefined {
    return this.readyAt.get(name);
  }

  count(prefix: string): number {
    let n = 0;
    for (const name of this.readyAt.keys()) if (name.startsWith(prefix)) n++;
    return n;
  }

  /** Resolves once `check` holds (tested on every event), or rejects after `timeoutMs`. */
  until(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs / 1000} s: ${describe()}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private seen(obj: GitCommitLike): void {
    if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (!this.readyAt.has(obj.metadata.name) && isReady(obj)) {
      this.readyAt.set(obj.metadata.name, performance.now());
      for (const listener of [...this.listeners]) listener();
    }
  }

  private async list(): Promise<void> {
    const res = await this.plane.request('GET', this.path);
    if (res.status !== 200) throw new Error(`listing GitCommits: ${res.status} ${res.body}`);
    const list = JSON.parse(res.body) as { metadata: { resourceVersion: string }; items: GitCommitLike[] };
    for (const item of list.items) this.seen(item);
    this.resourceVersion = list.metadata.resourceVersion;
  }

  private async run(): Promise<void> {
    const watch = new Watch(this.plane.admin());
    while (!this.stopped) {
      let gone = false;
      const ended = new Promise<void>((resolve) => {
        watch
          .watch(
            this.path,
            { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
            (type, obj: GitCommitLike & { code?: number }) => {
              if (type === 'ERROR') gone = obj.code === 410;
              else if (type === 'BOOKMARK') this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
              else this.seen(obj);
            },
            () => resolve(),
          )
          .then((abort) => {
            this.abort = abort;
            if (this.stopped) abort.abort();
          })
          .catch(() => resolve());
      });
      await ended;
      if (this.stopped) return;
      if (gone) await this.list().catch(() => {});
      // A watch ends after client-node's 30 s without an event; one that failed is retried shortly.
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
