/**
 * Persistent bare clones on the data volume, one per normalized repository URL, handled as git-sync
 * handles its checkouts: defensively. At start, stale lock files and temporary packs that a crash or a
 * kill left behind are removed and every clone is checked (`fsck --connectivity-only`); a broken one is
 * removed and cloned again on its next job. A disk budget evicts the least recently used clones.
 *
 * Layout: <dataDir>/clones/<key>/ (bare repositories), <dataDir>/tmp/ (private per-job files, emptied at
 * start). Clones are created under a temporary name and renamed, so a half-made clone is never used.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@gco/common/logger';
import { git, gitOk } from '../git/command.ts';
import type { RemoteUrl } from './remote-url.ts';

export interface CloneStoreOptions {
  dataDir: string;
  /** Total bytes the clones may use; the least recently used idle clones are evicted past it. 0: no limit. */
  diskBudgetBytes: number;
  gitTimeoutMs: number;
  logger: Logger;
}

export interface Clone {
  key: string;
  gitDir: string;
  /** False once the server was seen to refuse partial clone: fetch everything, no filter. */
  partial: boolean;
}

/** What the store keeps of each clone on the volume: about 300 bytes, with its key. */
interface Entry {
  lastUsed: number;
  bytes: number;
  /** From the clone's `gco.partial`, once read. */
  partial: boolean | undefined;
}

export class CloneStore {
  readonly clonesDir: string;
  readonly tmpDir: string;
  private readonly opts: CloneStoreOptions;
  /** One entry per clone on the volume, and no other: added when a clone exists, removed with it. */
  private readonly entries = new Map<string, Entry>();
  private readonly removedListeners: Array<(key: string) => void> = [];

  constructor(opts: CloneStoreOptions) {
    this.opts = opts;
    this.clonesDir = join(opts.dataDir, 'clones');
    this.tmpDir = join(opts.dataDir, 'tmp');
  }

  /** Calls `listener` with the key of every clone removed, so what is kept in memory for it goes too. */
  onRemoved(listener: (key: string) => void): void {
    this.removedListeners.push(listener);
  }

  /** Prepares the data directory after a start (or a crash): see the module comment. */
  async recover(): Promise<{ checked: number; removed: string[] }> {
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.clonesDir, { recursive: true });
    const removed: string[] = [];
    let checked = 0;
    for (const name of await readdir(this.clonesDir)) {
      const gitDir = join(this.clonesDir, name);
      if (name.startsWith('.')) {
        // A clone that was being created or evicted when the process died.
        await rm(gitDir, { recursive: true, force: true });
        continue;
      }
      checked++;
      await removeLeftovers(gitDir);
      const fsck = await git(['fsck', '--connectivity-only', '--no-dangling', '--no-progress'], {
        gitDir,
        timeoutMs: this.opts.gitTimeoutMs,
      });
      if (fsck.code !== 0) {
        this.opts.logger.warn('removing a broken clone; it is cloned again on its next job', {
          clone: name,
          error: fsck.stderr.trim().split('\n').slice(-3).join('; '),
        });
        await this.remove(name);
        removed.push(name);
        continue;
      }
      const info = await stat(gitDir);
      this.entries.set(name, { lastUsed: info.mtimeMs, bytes: await directorySize(gitDir), partial: undefined });
    }
    return { checked, removed };
  }

  /** The clone for a repository, created empty (no network) if it does not exist yet. */
  async open(remote: RemoteUrl): Promise<{ clone: Clone; created: boolean }> {
    const gitDir = join(this.clonesDir, remote.key);
    let created = false;
    if (!existsSync(join(gitDir, 'HEAD'))) {
      const tmp = join(this.clonesDir, `.new-${remote.key}-${randomBytes(4).toString('hex')}`);
      // No template: sample hooks are dead weight in a clone that never runs hooks.
      await gitOk(['init', '--quiet', '--bare', '--template=', tmp], { timeoutMs: this.opts.gitTimeoutMs });
      // Written as one block rather than a dozen `git config` processes (15 ms each here).
      await appendFile(
        join(tmp, 'config'),
        [
          '[core]',
          '\trepositoryformatversion = 1',
          '\tlogAllRefUpdates = false',
          '[extensions]',
          '\tpartialClone = origin',
          '[remote "origin"]',
          `\turl = ${configValue(remote.url)}`,
          '\tfetch = +refs/heads/*:refs/remotes/origin/*',
          '\tpromisor = true',
          '\tpartialclonefilter = blob:none',
          '\ttagOpt = --no-tags',
          '# We run maintenance ourselves, between jobs, never in the middle of one.',
          '[gc]',
          '\tauto = 0',
          '[maintenance]',
          '\tauto = false',
          '[protocol]',
          '\tversion = 2',
          '',
        ].join('\n'),
      );
      await rename(tmp, gitDir);
      created = true;
    }
    let entry = this.entries.get(remote.key);
    if (!entry) {
      entry = { lastUsed: Date.now(), bytes: 0, partial: undefined };
      this.entries.set(remote.key, entry);
    }
    entry.lastUsed = Date.now();
    if (entry.partial === undefined) {
      const mode = await git(['config', '--get', 'gco.partial'], { gitDir, timeoutMs: this.opts.gitTimeoutMs });
      entry.partial = mode.stdout.toString().trim() !== 'false';
    }
    return { clone: { key: remote.key, gitDir, partial: entry.partial }, created };
  }

  /** Records that the server refuses partial clone: later fetches ask for everything. */
  async markFull(clone: Clone): Promise<void> {
    await gitOk(['config', 'gco.partial', 'false'], { gitDir: clone.gitDir, timeoutMs: this.opts.gitTimeoutMs });
    const entry = this.entries.get(clone.key);
    if (entry) entry.partial = false;
    clone.partial = false;
  }

  /** Removes lock files and temporary packs after a killed command. Call only while holding the clone. */
  async cleanAfterKill(clone: Clone): Promise<void> {
    await removeLeftovers(clone.gitDir);
  }

  /** Removes a clone from the volume and forgets it. Call only while holding it (no batch running on it). */
  async remove(key: string): Promise<void> {
    const gitDir = join(this.clonesDir, key);
    const trash = join(this.clonesDir, `.trash-${key}-${randomBytes(4).toString('hex')}`);
    // Forgotten first, together with what others keep of it, and even when the directory is gone
    // already: an entry must not outlive its clone.
    if (this.entries.delete(key)) for (const listener of this.removedListeners) listener(key);
    const moved = await rename(gitDir, trash).then(
      () => true,
      () => false,
    );
    if (moved) await rm(trash, { recursive: true, force: true });
  }

  /**
   * Removes a clone nothing was ever fetched into (no refs): what a first job to a repository that does
   * not exist, refuses the credentials or cannot be reached leaves. Kept, such clones would pile up on
   * the volume and in memory with every wrong URL, under no disk budget. Call only while holding it.
   */
  async removeIfEmpty(clone: Clone): Promise<boolean> {
    const refs = await git(['for-each-ref', '--count=1', '--format=%(refname)'], {
      gitDir: clone.gitDir,
      timeoutMs: this.opts.gitTimeoutMs,
    });
    if (refs.code !== 0 || refs.stdout.length > 0) return false;
    await this.remove(clone.key);
    return true;
  }

  /** Measures a clone again after it changed; a clone removed meanwhile stays forgotten. */
  async updateSize(clone: Clone): Promise<void> {
    if (!this.entries.has(clone.key)) return;
    const bytes = await directorySize(clone.gitDir);
    const entry = this.entries.get(clone.key);
    if (entry) entry.bytes = bytes;
  }

  totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.bytes;
    return total;
  }

  count(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Evicts least recently used clones until the store fits its budget, each while `hold` keeps batches
   * off it (the scheduler's `exclusive`, which runs nothing on a repository with work running or queued
   * and answers undefined then). The most recently used clone is never evicted: a budget smaller than
   * one clone must not make every job clone again.
   */
  async evict(hold: <T>(key: string, task: () => Promise<T>) => Promise<T | undefined>): Promise<string[]> {
    const evicted: string[] = [];
    if (this.opts.diskBudgetBytes <= 0) return evicted;
    const started = Date.now();
    const lastUsed = (key: string) => this.entries.get(key)?.lastUsed ?? 0;
    const byAge = this.keys().sort((a, b) => lastUsed(a) - lastUsed(b));
    byAge.pop();
    for (const key of byAge) {
      if (this.totalBytes() <= this.opts.diskBudgetBytes) break;
      const removed = await hold(key, async () => {
        // Gone, or used by a batch since the list was made: no longer the least recently used.
        if (!this.entries.has(key) || lastUsed(key) > started) return false;
        this.opts.logger.info('evicting clone over the disk budget', {
          clone: key,
          bytes: this.entries.get(key)?.bytes,
        });
        await this.remove(key);
        return true;
      });
      if (removed) evicted.push(key);
    }
    return evicted;
  }
}

/** A value for a git config file: quoted, with `\` and `"` escaped. */
function configValue(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Stale `*.lock` files and temporary objects that a killed git leaves in a bare repository. */
async function removeLeftovers(gitDir: string): Promise<void> {
  const targets: string[] = [];
  const scan = async (dir: string, recursive: boolean, match: (name: string) => boolean) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (match(e.name)) targets.push(path);
      else if (recursive && e.isDirectory()) await scan(path, true, match);
    }
  };
  const isLock = (n: string) => n.endsWith('.lock');
  await scan(gitDir, false, isLock);
  await scan(join(gitDir, 'refs'), true, isLock);
  await scan(join(gitDir, 'objects/info'), true, isLock);
  await scan(join(gitDir, 'objects/pack'), false, (n) => n.startsWith('tmp_') || n.startsWith('.tmp-') || isLock(n));
  await scan(join(gitDir, 'objects'), false, (n) => n.startsWith('tmp_objdir') || n.startsWith('incoming-'));
  await Promise.all(targets.map((t) => rm(t, { recursive: true, force: true })));
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await directorySize(path);
    else if (e.isFile()) total += (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
