/**
 * The execution indexes of the branches worked on lately, the least recently used forgotten first.
 * Bounded by the commits they may hold in all rather than by branches: an index keeps up to `depth`
 * commits, about 240 bytes each as measured (the SHA and the ids; 517 before they were copied out of
 * the commit text they were cut from, `strings.ts`). A forgotten index is rebuilt by its
 * branch's next batch, reading `depth` commits through cat-file (~90 ms for 1,000).
 */
import { ExecutionIndex } from '../git/execution-index.ts';
import { RecentMap } from './recent-map.ts';

/** Commits the indexes may hold in all: 50 branches at the default depth of 1,000, ~12 MB. */
export const maxIndexedCommits = 50_000;

export class ExecutionIndexes {
  private readonly depth: number;
  private readonly indexes: RecentMap<ExecutionIndex>;

  constructor(depth: number, maxCommits = maxIndexedCommits) {
    this.depth = depth;
    this.indexes = new RecentMap(Math.max(1, Math.floor(maxCommits / depth)));
  }

  /** The index of a branch (a new, empty one if it had none or it was forgotten), now the most recent. */
  of(branchKey: string): ExecutionIndex {
    const index = this.indexes.get(branchKey) ?? new ExecutionIndex(this.depth);
    this.indexes.set(branchKey, index);
    return index;
  }

  /** Forgets the indexes of every branch whose key starts with `prefix` (a removed clone's). */
  forget(prefix: string): void {
    this.indexes.deletePrefix(prefix);
  }

  /** Branches indexed now. */
  get size(): number {
    return this.indexes.size;
  }

  /** Commits the indexes hold now. */
  get commits(): number {
    let n = 0;
    for (const index of this.indexes.values()) n += index.size;
    return n;
  }
}
