/**
 * The execution indexes of the branches worked on lately, the least recently used forgotten first.
 * Bounded by the commits they may hold in all rather than by branches: an index keeps up to `depth`
 * commits, about 480 bytes each as measured (the SHA and ids, with the commit text they are cut from),
 * so that 512 branches of a long history (pull-request heads) held ~240 MB. A forgotten index is
 * rebuilt by its branch's next batch, reading `depth` commits through cat-file (~90 ms for 1,000).
 */
import { ExecutionIndex } from '../git/execution-index.ts';

/** Commits the indexes may hold in all: 50 branches at the default depth of 1,000, ~24 MB. */
export const maxIndexedCommits = 50_000;

export class ExecutionIndexes {
  private readonly depth: number;
  private readonly maxBranches: number;
  private readonly indexes = new Map<string, ExecutionIndex>();

  constructor(depth: number, maxCommits = maxIndexedCommits) {
    this.depth = depth;
    this.maxBranches = Math.max(1, Math.floor(maxCommits / depth));
  }

  /** The index of a branch (a new, empty one if it had none or it was forgotten), now the most recent. */
  of(branchKey: string): ExecutionIndex {
    const index = this.indexes.get(branchKey) ?? new ExecutionIndex(this.depth);
    // A Map iterates in insertion order: re-inserting makes it the most recently used.
    this.indexes.delete(branchKey);
    this.indexes.set(branchKey, index);
    if (this.indexes.size > this.maxBranches) this.indexes.delete(this.indexes.keys().next().value as string);
    return index;
  }

  /** Branches indexed now. */
  get size(): number {
    return this.indexes.size;
  }
}
