/**
 * A Map that keeps at most `max` entries, the least recently used dropped first: the one bound of the
 * sidecar's in-memory caches (default branches, execution indexes, contended branches), so that what it
 * holds does not grow with the repositories and branches it has served. A Map iterates in insertion
 * order, so re-inserting an entry makes it the most recent.
 */
export class RecentMap<V> {
  readonly max: number;
  private readonly entries = new Map<string, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a RecentMap holds at least one entry, not ${max}`);
    this.max = max;
  }

  /** The entry of `key`, now the most recently used. */
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Whether `key` has an entry, without making it more recent. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Sets `key`, now the most recently used, and drops the least recently used past the bound. */
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a repository's, when its clone is removed). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  get size(): number {
    return this.entries.size;
  }
}
