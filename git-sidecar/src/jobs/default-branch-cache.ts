/**
 * The default branch of each repository, asked of the remote (`ls-remote --symref`, a round trip) once
 * per `ttlMs` rather than by every batch whose job names no branch. Bounded twice: an answer is used
 * for `ttlMs` at most, so a default branch renamed on the remote is followed that much later, and at
 * most `maxRepositories` are kept, the least recently asked dropped first, so a sidecar that has served
 * many repositories holds no more than that (about 200 bytes each).
 */

/** Repositories whose default branch is kept. */
export const maxCachedDefaultBranches = 1024;

export class DefaultBranchCache {
  private readonly ttlMs: number;
  private readonly maxRepositories: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, { branch: string; until: number }>();

  constructor(ttlMs: number, opts: { maxRepositories?: number; now?: () => number } = {}) {
    this.ttlMs = ttlMs;
    this.maxRepositories = opts.maxRepositories ?? maxCachedDefaultBranches;
    this.now = opts.now ?? Date.now;
  }

  /** The cached branch of `repositoryKey`, or what `ask` answers (then cached). */
  async get(repositoryKey: string, ask: () => Promise<string>): Promise<string> {
    const cached = this.entries.get(repositoryKey);
    // A Map iterates in insertion order: re-inserting makes it the most recently asked.
    this.entries.delete(repositoryKey);
    if (cached && cached.until > this.now()) {
      this.entries.set(repositoryKey, cached);
      return cached.branch;
    }
    const branch = await ask();
    this.entries.delete(repositoryKey);
    this.entries.set(repositoryKey, { branch, until: this.now() + this.ttlMs });
    while (this.entries.size > this.maxRepositories) this.entries.delete(this.entries.keys().next().value as string);
    return branch;
  }

  /** Repositories cached now. */
  get size(): number {
    return this.entries.size;
  }
}
