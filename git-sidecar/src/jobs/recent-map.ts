/**
 * A map that keeps at most `max` entries, the least recently used dropped first: the one bound of the
 * sidecar's in-memory caches (default branches, execution indexes, contended branches), so that what it
 * holds does not grow with the repositories and branches it has served. lru-cache does the keeping;
 * this adds the one operation the caches need that it lacks: forgetting a repository's entries (their
 * keys share its prefix) when its clone is removed.
 */
import { LRUCache } from 'lru-cache';

export class RecentMap<V extends {}> {
  readonly max: number;
  private readonly entries: LRUCache<string, V>;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a RecentMap holds at least one entry, not ${max}`);
    this.max = max;
    this.entries = new LRUCache({ max });
  }

  /** The entry of `key`, now the most recently used. */
  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** Whether `key` has an entry, without making it more recent. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Sets `key`, now the most recently used, and drops the least recently used past the bound. */
  set(key: string, value: V): void {
    this.entries.set(key, value);
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a repository's, when its clone is removed). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** The values, least recently used first. */
  *values(): Generator<V> {
    for (const value of this.entries.rvalues()) if (value !== undefined) yield value;
  }

  get size(): number {
    return this.entries.size;
  }
}
