/**
 * Reads and writes git objects of one bare clone without a work tree or an index.
 *
 * Reads (trees, blobs, refs) go through one long-lived `cat-file --batch` per job batch; a blob missing
 * from a blobless clone is fetched lazily by git itself. Writes are loose objects written here, in
 * process: a blob, a tree and a commit are a header, the bytes, a SHA-1 and zlib (the format git
 * documents and every git implementation shares). On these machines a process start costs 15-30 ms, and
 * `hash-object`, `mktree` and `commit-tree` were three of them per commit, most of a warm commit's time
 * before the network. Writing only needs none of what makes git's own code worth calling (packs,
 * partial clone, refs); isomorphic-git could do it, but at the price of a second git implementation in
 * the image. Objects are written to a temporary file and renamed into place, as git does, and the tests
 * push them to a server that checks every object (`receive.fsckObjects`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflate as deflateCallback } from 'node:zlib';
import { Reason, SidecarError } from '../errors.ts';
import { BatchProcess, parseLine } from './batch-process.ts';

const deflate = promisify(deflateCallback);

export const emptyTreeOid = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export type EntryType = 'blob' | 'tree' | 'commit';

export interface TreeEntry {
  mode: string;
  type: EntryType;
  oid: string;
  name: string;
}

export interface GitObject {
  oid: string;
  type: string;
  content: Buffer;
}

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
}

export interface ObjectStoreOptions {
  gitDir: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /**
   * A file for git's trace2 events of the reading process, to count the blob fetches git makes on its
   * own in a blobless clone (they are invisible otherwise: `cat-file` just answers, later). Removed on
   * close.
   */
  lazyFetchLog?: string;
}

function typeOfMode(mode: string): EntryType {
  if (mode === '40000' || mode === '040000') return 'tree';
  if (mode === '160000') return 'commit';
  return 'blob';
}

/** Parses a raw tree object: `<mode> <name>\0<20-byte oid>` repeated. */
export function parseTree(content: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const space = content.indexOf(0x20, i);
    const nul = content.indexOf(0, space);
    const mode = content.subarray(i, space).toString();
    const name = content.subarray(space + 1, nul).toString();
    const oid = content.subarray(nul + 1, nul + 21).toString('hex');
    entries.push({ mode: mode === '40000' ? '040000' : mode, type: typeOfMode(mode), oid, name });
    i = nul + 21;
  }
  return entries;
}

export interface CommitFields {
  tree: string;
  parents: string[];
  author: Signature;
  message: string;
}

/** A commit object's bytes: its headers, a blank line, the message. The author is also the committer. */
export function formatCommit(commit: CommitFields): Buffer {
  const signature = (s: Signature) => `${s.name} <${s.email}> ${s.time} +0000`;
  return Buffer.from(
    `tree ${commit.tree}\n${commit.parents.map((p) => `parent ${p}\n`).join('')}` +
      `author ${signature(commit.author)}\ncommitter ${signature(commit.author)}\n\n${commit.message}`,
  );
}

export class ObjectStore {
  private catFile: BatchProcess | undefined;
  private readonly opts: ObjectStoreOptions;

  constructor(opts: ObjectStoreOptions) {
    this.opts = opts;
  }

  /** Reads an object by oid or revision expression (`<tip>:<path>`); undefined when it does not exist. */
  async read(object: string): Promise<GitObject | undefined> {
    this.catFile ??= new BatchProcess(['cat-file', '--batch'], {
      ...this.opts,
      env: this.opts.lazyFetchLog ? { ...this.opts.env, GIT_TRACE2_EVENT: this.opts.lazyFetchLog } : this.opts.env,
    });
    return this.catFile.request(`${object}\n`, (buffer) => {
      const header = parseLine(buffer);
      if (!header) return undefined;
      if (header.value.endsWith(' missing') || header.value.endsWith(' ambiguous')) {
        return { value: undefined, consumed: header.consumed };
      }
      const [oid = '', type = '', sizeText = '0'] = header.value.split(' ');
      const size = Number.parseInt(sizeText, 10);
      if (buffer.length < header.consumed + size + 1) return undefined;
      const content = Buffer.from(buffer.subarray(header.consumed, header.consumed + size));
      return { value: { oid, type, content }, consumed: header.consumed + size + 1 };
    });
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    const object = await this.read(oid);
    if (object?.type !== 'tree') throw new Error(`tree ${oid} is missing from the clone`);
    return parseTree((object as GitObject).content);
  }

  async readBlob(oid: string): Promise<Buffer> {
    const object = await this.read(oid);
    if (object?.type !== 'blob') {
      // In a blobless clone git fetches it on demand: the remote did not give it.
      throw new SidecarError(Reason.UNAVAILABLE, `blob ${oid} could not be read, nor fetched from the remote`);
    }
    return (object as GitObject).content;
  }

  /** Resolves a ref or revision to a commit oid; undefined when it does not exist. */
  async resolveCommit(rev: string): Promise<string | undefined> {
    const object = await this.read(`${rev}^{commit}`);
    return object?.oid;
  }

  async writeBlob(content: Buffer): Promise<string> {
    return this.writeObject('blob', content);
  }

  /** Writes a tree from its entries, in any order, and returns its oid. */
  async writeTree(entries: TreeEntry[]): Promise<string> {
    if (entries.length === 0) return emptyTreeOid;
    // git's order: byte order of names, a directory compared as if its name ended with '/'.
    const keyed = entries.map((e) => ({ e, key: Buffer.from(e.type === 'tree' ? `${e.name}/` : e.name) }));
    keyed.sort((a, b) => Buffer.compare(a.key, b.key));
    const parts: Buffer[] = [];
    for (const { e } of keyed) {
      parts.push(Buffer.from(`${e.type === 'tree' ? '40000' : e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex'));
    }
    return this.writeObject('tree', Buffer.concat(parts));
  }

  /** Writes a commit object given whole (`formatCommit`, then signed or not); returns its oid. */
  async writeCommit(object: Buffer): Promise<string> {
    return this.writeObject('commit', object);
  }

  /** Writes a loose object (temporary file, then rename) unless it exists already; returns its oid. */
  private async writeObject(type: 'blob' | 'tree' | 'commit', content: Buffer): Promise<string> {
    const header = Buffer.from(`${type} ${content.length}\0`);
    const oid = createHash('sha1').update(header).update(content).digest('hex');
    const dir = join(this.opts.gitDir, 'objects', oid.slice(0, 2));
    const path = join(dir, oid.slice(2));
    if (existsSync(path)) return oid;
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, await deflate(Buffer.concat([header, content]), { level: 1 }), { mode: 0o444 });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
    return oid;
  }

  /** Ends the reading process; resolves to the blob fetches it made (0 without a lazyFetchLog). */
  async close(): Promise<number> {
    await this.catFile?.close();
    this.catFile = undefined;
    const log = this.opts.lazyFetchLog;
    if (!log) return 0;
    const events = await readFile(log, 'utf8').catch(() => '');
    await rm(log, { force: true });
    return countLazyFetches(events);
  }
}

/**
 * The promisor fetches in trace2 events: git starts `git … fetch <remote> … --stdin` to fetch the
 * objects a command found missing (promisor-remote.c). Its own children (the transport, pack-objects)
 * write events to the same file and are not counted.
 */
export function countLazyFetches(trace2Events: string): number {
  let count = 0;
  for (const line of trace2Events.split('\n')) {
    if (!line.includes('"child_start"')) continue;
    try {
      const event = JSON.parse(line) as { event?: string; argv?: string[] };
      if (event.event === 'child_start' && event.argv?.includes('fetch') && event.argv.includes('--stdin')) count++;
    } catch {
      // a line cut short by a killed process
    }
  }
  return count;
}
