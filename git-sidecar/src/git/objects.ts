/**
 * Reads and writes git objects of one bare clone without a work tree or an index: trees and blobs come
 * from a long-lived `cat-file --batch` (a missing blob of a blobless clone is fetched lazily, by git),
 * trees are written by a long-lived `mktree --batch --missing` (it must not demand the blobs a blobless
 * clone does not have), blobs by one `hash-object -w --stdin-paths` per batch of new contents.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BatchProcess, parseLine } from './batch-process.ts';
import { gitOk } from './command.ts';

export const emptyTreeOid = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export type EntryType = 'blob' | 'tree' | 'commit';

export interface TreeEntry {
  mode: string;
  type: EntryType;
  oid: string;
  name: string;
}

export interface GitObject {
  type: string;
  content: Buffer;
}

export interface ObjectStoreOptions {
  gitDir: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Private directory for temporary files of this job. */
  tmpDir: string;
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

export class ObjectStore {
  private catFile: BatchProcess | undefined;
  private mktree: BatchProcess | undefined;
  private readonly opts: ObjectStoreOptions;

  constructor(opts: ObjectStoreOptions) {
    this.opts = opts;
  }

  /** Reads an object by oid or revision expression (`<tip>:<path>`); undefined when it does not exist. */
  async read(object: string): Promise<GitObject | undefined> {
    this.catFile ??= new BatchProcess(['cat-file', '--batch'], this.opts);
    return this.catFile.request(`${object}\n`, (buffer) => {
      const header = parseLine(buffer);
      if (!header) return undefined;
      if (header.value.endsWith(' missing') || header.value.endsWith(' ambiguous')) {
        return { value: undefined, consumed: header.consumed };
      }
      const [, type = '', sizeText = '0'] = header.value.split(' ');
      const size = Number.parseInt(sizeText, 10);
      if (buffer.length < header.consumed + size + 1) return undefined;
      const content = Buffer.from(buffer.subarray(header.consumed, header.consumed + size));
      return { value: { type, content }, consumed: header.consumed + size + 1 };
    });
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    const object = await this.read(oid);
    if (object?.type !== 'tree') throw new Error(`tree ${oid} is missing from the clone`);
    return parseTree((object as GitObject).content);
  }

  async readBlob(oid: string): Promise<Buffer> {
    const object = await this.read(oid);
    if (object?.type !== 'blob') throw new Error(`blob ${oid} could not be read (nor fetched from the remote)`);
    return (object as GitObject).content;
  }

  /** Writes a tree from its entries (any order: mktree sorts them) and returns its oid. */
  async writeTree(entries: TreeEntry[]): Promise<string> {
    if (entries.length === 0) return emptyTreeOid;
    this.mktree ??= new BatchProcess(['mktree', '-z', '--missing', '--batch'], this.opts);
    const input = `${entries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.name}\0`).join('')}\0`;
    return this.mktree.request(input, parseLine);
  }

  /** Writes blobs for all contents with one git process; returns their oids in order. */
  async writeBlobs(contents: Buffer[]): Promise<string[]> {
    if (contents.length === 0) return [];
    const dir = await mkdtemp(join(this.opts.tmpDir, 'blobs-'));
    try {
      const paths = contents.map((_, i) => join(dir, String(i)));
      await Promise.all(contents.map((c, i) => writeFile(paths[i] as string, c)));
      const out = await gitOk(['hash-object', '-w', '--no-filters', '--stdin-paths'], {
        gitDir: this.opts.gitDir,
        env: this.opts.env,
        input: `${paths.join('\n')}\n`,
        timeoutMs: this.opts.timeoutMs,
      });
      const oids = out.toString().trim().split('\n');
      if (oids.length !== contents.length) throw new Error('git hash-object returned an unexpected number of objects');
      return oids;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.catFile?.close(), this.mktree?.close()]);
    this.catFile = undefined;
    this.mktree = undefined;
  }
}
