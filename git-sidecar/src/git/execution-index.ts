/**
 * Finds, in a branch's recent history, the commits that carry given execution ids (the Gco-Execution
 * trailer), so a retried job reports its commit instead of making a second one.
 *
 * The walk reads commit objects through the batch's `cat-file` (a blobless clone has every commit), and
 * the index remembers the tip it walked last: a warm job only reads the commits that arrived since. When
 * the walk does not meet that tip again (history was rewritten), the index starts over, so it never
 * reports a commit that is no longer on the branch.
 */
import { flatCopy } from '../strings.ts';
import type { ObjectStore } from './objects.ts';

const trailer = /^Gco-Execution: *(\S+) *$/gm;

interface IndexedCommit {
  sha: string;
  ids: string[];
}

export class ExecutionIndex {
  private tip: string | undefined;
  /** Newest first, at most `depth` commits. */
  private commits: IndexedCommit[] = [];
  private readonly depth: number;

  constructor(depth: number) {
    this.depth = depth;
  }

  /** Commits indexed now. */
  get size(): number {
    return this.commits.length;
  }

  async find(objects: ObjectStore, tip: string, ids: ReadonlySet<string>): Promise<Map<string, string>> {
    if (tip !== this.tip) await this.advance(objects, tip);
    const found = new Map<string, string>();
    for (const commit of this.commits) {
      for (const id of commit.ids) if (ids.has(id) && !found.has(id)) found.set(id, commit.sha);
    }
    return found;
  }

  /** Walks from `tip` back to the previously indexed tip (or `depth` commits), newest first. */
  private async advance(objects: ObjectStore, tip: string): Promise<void> {
    const fresh: IndexedCommit[] = [];
    const queue = [tip];
    const visited = new Set<string>();
    let metPrevious = false;
    while (queue.length > 0 && fresh.length < this.depth) {
      const sha = queue.shift() as string;
      if (visited.has(sha)) continue;
      visited.add(sha);
      if (sha === this.tip) {
        metPrevious = true;
        continue;
      }
      const object = await objects.read(sha);
      if (object?.type !== 'commit') break;
      const text = object.content.toString();
      const headerEnd = text.indexOf('\n\n');
      const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
      for (const m of header.matchAll(/^parent ([0-9a-f]+)$/gm)) queue.push(m[1] as string);
      const message = headerEnd < 0 ? '' : text.slice(headerEnd + 2);
      fresh.push({ sha: flatCopy(sha), ids: [...message.matchAll(trailer)].map((m) => flatCopy(m[1] as string)) });
    }
    this.commits = (metPrevious ? [...fresh, ...this.commits] : fresh).slice(0, this.depth);
    this.tip = tip;
  }
}
