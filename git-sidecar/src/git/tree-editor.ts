/**
 * Edits a tree the way a commit needs it, at a cost that depends on the change, not on the repository:
 * only the trees along changed paths are read (from the local clone) and rewritten (bottom-up with
 * mktree); every other subtree keeps its oid untouched. Appends read just the one blob they extend.
 */
import { Reason, SidecarError } from '../errors.ts';
import type { ObjectStore, TreeEntry } from './objects.ts';

interface Directory {
  /** Entries as in the base tree, loaded on first use; undefined for a directory new in this edit. */
  entries: Map<string, TreeEntry> | undefined;
  baseOid: string | undefined;
  /** Subdirectories being edited. */
  children: Map<string, Directory>;
  /** Files written in this edit (content not yet hashed). */
  files: Map<string, { content: Buffer; mode: string }>;
  deleted: Set<string>;
  loaded: boolean;
}

function newDirectory(baseOid: string | undefined): Directory {
  return { entries: undefined, baseOid, children: new Map(), files: new Map(), deleted: new Set(), loaded: false };
}

const clash = (path: string, why: string) =>
  new SidecarError(Reason.INVALID_PATH, `path ${JSON.stringify(path)}: ${why}`);

export class TreeEditor {
  private readonly root: Directory;
  private readonly objects: ObjectStore;

  /** `baseTree` undefined: start from an empty tree (first commit of a repository). */
  constructor(objects: ObjectStore, baseTree: string | undefined) {
    this.objects = objects;
    this.root = newDirectory(baseTree);
  }

  private async load(dir: Directory): Promise<Map<string, TreeEntry>> {
    if (!dir.loaded) {
      dir.entries = new Map();
      if (dir.baseOid) for (const e of await this.objects.readTree(dir.baseOid)) dir.entries.set(e.name, e);
      dir.loaded = true;
    }
    return dir.entries as Map<string, TreeEntry>;
  }

  /** The directory holding `path`'s last segment, created as needed when `create` is set. */
  private async directoryOf(path: string, create: boolean): Promise<{ dir: Directory; name: string } | undefined> {
    const segments = path.split('/');
    const name = segments.pop() as string;
    let dir = this.root;
    let walked = '';
    for (const segment of segments) {
      walked = walked ? `${walked}/${segment}` : segment;
      let child = dir.children.get(segment);
      if (!child) {
        if (dir.files.has(segment)) throw clash(path, `'${walked}' is a file written by this same commit`);
        const entries = await this.load(dir);
        const existing = dir.deleted.has(segment) ? undefined : entries.get(segment);
        if (existing && existing.type !== 'tree') {
          if (!create) return undefined;
          throw clash(path, `'${walked}' is a file in the repository, not a directory`);
        }
        if (!existing && !create) return undefined;
        child = newDirectory(existing?.oid);
        dir.children.set(segment, child);
        dir.deleted.delete(segment);
      }
      dir = child;
    }
    return { dir, name };
  }

  /** The content of a file as this edit leaves it so far; undefined when there is none. */
  async readFile(path: string): Promise<Buffer | undefined> {
    const located = await this.directoryOf(path, false);
    if (!located) return undefined;
    const { dir, name } = located;
    const written = dir.files.get(name);
    if (written) return written.content;
    if (dir.deleted.has(name) || dir.children.has(name)) return undefined;
    const entry = (await this.load(dir)).get(name);
    if (!entry) return undefined;
    if (entry.type !== 'blob') throw clash(path, 'is a directory in the repository, not a file');
    return this.objects.readBlob(entry.oid);
  }

  async writeFile(path: string, content: Buffer): Promise<void> {
    const located = await this.directoryOf(path, true);
    if (!located) throw clash(path, 'cannot be created');
    const { dir, name } = located;
    if (dir.children.has(name)) throw clash(path, 'is a directory, not a file');
    const entry = (await this.load(dir)).get(name);
    if (entry && !dir.deleted.has(name)) {
      if (entry.type === 'tree') throw clash(path, 'is a directory in the repository, not a file');
      if (entry.type === 'commit') throw clash(path, 'is a submodule in the repository');
    }
    // An executable file stays executable; anything else becomes a regular file.
    const mode = entry?.mode === '100755' && !dir.deleted.has(name) ? '100755' : '100644';
    dir.files.set(name, { content, mode });
    dir.deleted.delete(name);
  }

  async deleteFile(path: string): Promise<void> {
    const located = await this.directoryOf(path, false);
    if (!located) return;
    const { dir, name } = located;
    if (dir.children.has(name)) throw clash(path, 'is a directory; only files can be deleted');
    const entry = (await this.load(dir)).get(name);
    if (entry?.type === 'tree') throw clash(path, 'is a directory; only files can be deleted');
    dir.files.delete(name);
    if (entry) dir.deleted.add(name);
  }

  /** Writes every changed tree, bottom-up, and returns the new root tree's oid. */
  async write(): Promise<string> {
    const pending: Array<{ dir: Directory; name: string; content: Buffer; mode: string }> = [];
    const collect = (dir: Directory) => {
      for (const [name, f] of dir.files) pending.push({ dir, name, content: f.content, mode: f.mode });
      for (const child of dir.children.values()) collect(child);
    };
    collect(this.root);
    const oids: string[] = [];
    for (const p of pending) oids.push(await this.objects.writeBlob(p.content));
    const blobOids = new Map<Directory, Map<string, { oid: string; mode: string }>>();
    pending.forEach((p, i) => {
      const m = blobOids.get(p.dir) ?? new Map<string, { oid: string; mode: string }>();
      blobOids.set(p.dir, m);
      m.set(p.name, { oid: oids[i] as string, mode: p.mode });
    });
    return (await this.writeDirectory(this.root, blobOids)) ?? (await this.objects.writeTree([]));
  }

  /** Returns the directory's new oid, or undefined when it ends up empty (and so disappears). */
  private async writeDirectory(
    dir: Directory,
    blobOids: Map<Directory, Map<string, { oid: string; mode: string }>>,
  ): Promise<string | undefined> {
    const untouched = dir.files.size === 0 && dir.deleted.size === 0 && dir.children.size === 0;
    if (untouched && dir.baseOid) return dir.baseOid;
    const entries = new Map(await this.load(dir));
    for (const name of dir.deleted) entries.delete(name);
    for (const [name, child] of dir.children) {
      const oid = await this.writeDirectory(child, blobOids);
      if (oid) entries.set(name, { mode: '040000', type: 'tree', oid, name });
      else entries.delete(name);
    }
    for (const [name, blob] of blobOids.get(dir) ?? []) {
      entries.set(name, { mode: blob.mode, type: 'blob', oid: blob.oid, name });
    }
    if (entries.size === 0) return undefined;
    return this.objects.writeTree([...entries.values()]);
  }
}
