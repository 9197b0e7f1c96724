/**
 * The default branch of each repository, asked of the remote (`ls-remote --symref`, a round trip) once
 * per `ttlMs` rather than by every batch whose job names no branch. Bounded twice: an answer is used
 * for `ttlMs` at most, so a default branch renamed on the remote is followed that much later, and at
 * most `maxRepositories` are kept, the least recently asked dropped first, so a sidecar that has served
 * many repositories holds no more than that (about 200 bytes each). A repository whose clone is removed
 * is forgotten with it.
 */
import { RecentMap } from './recent-map.ts';

/** Repositories whose default branch is kept. */
export const maxCachedDefaultBranches = 1024;

export class DefaultBranchCache {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly entries: RecentMap<{ branch: string; until: number }>;

  constructor(ttlMs: number, opts: { maxRepositories?: number; now?: () => number } = {}) {
    this.ttlMs = ttlMs;
    this.entries = new RecentMap(opts.maxRepositories ?? maxCachedDefaultBranches);
    this.now = opts.now ?? Date.now;
  }

  /** The cached branch of `repositoryKey`, or what `ask` answers (then cached). */
  async get(repositoryKey: string, ask: () => Promise<string>): Promise<string> {
    const cached = this.entries.get(repositoryKey);
    if (cached && cached.until > this.now()) return cached.branch;
    // An expired answer is not kept while the remote is asked: if asking fails, nothing stale remains.
    this.entries.delete(repositoryKey);
    const branch = await ask();
    this.entries.set(repositoryKey, { branch, until: this.now() + this.ttlMs });
    return branch;
  }

  forget(repositoryKey: string): void {
    this.entries.delete(repositoryKey);
  }

  /** Repositories cached now. */
  get size(): number {
    return this.entries.size;
  }
}
