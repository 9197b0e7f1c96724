/**
 * A secondary index over a source's objects, as client-go's Indexer: each object is filed under the
 * values an index function gives it, and kept current by the source's change events. It turns "which
 * resources use this Secret?" from a scan of every resource per Secret event (5,000 x 5,000 on a relist
 * of a cluster's Secrets) into a map lookup.
 */
import type { ChangeHandler } from './informer.ts';
import { type KubeObject, objectKey } from './resources.ts';

export class Index<T extends KubeObject> {
  private readonly keysByValue = new Map<string, Set<string>>();
  private readonly valuesByKey = new Map<string, string[]>();

  constructor(source: { onChange(handler: ChangeHandler<T>): void }, indexFn: (obj: T) => string[]) {
    source.onChange((type, obj) => this.update(objectKey(obj), type === 'deleted' ? [] : indexFn(obj)));
  }

  /** Keys of the objects filed under `value`. */
  keys(value: string): string[] {
    return [...(this.keysByValue.get(value) ?? [])];
  }

  private update(key: string, values: string[]): void {
    const old = this.valuesByKey.get(key) ?? [];
    if (old.length === values.length && old.every((v, i) => v === values[i])) return;
    for (const value of old) {
      const keys = this.keysByValue.get(value);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByValue.delete(value);
    }
    for (const value of values) {
      const keys = this.keysByValue.get(value) ?? new Set<string>();
      keys.add(key);
      this.keysByValue.set(value, keys);
    }
    if (values.length > 0) this.valuesByKey.set(key, values);
    else this.valuesByKey.delete(key);
  }
}
