/**
 * The harness's cache outside the checkout (built images, Docker's data), safe for two runs at once: a
 * test run and the demo in two terminals, or two worktrees. Each entry is made under its own lock
 * (flock, released by the kernel when its holder dies, so a killed run never leaves a stale lock) into
 * a temporary name of its own, and renamed into place, so nobody ever sees half an entry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** `$GCO_CACHE_DIR`, or `gco` in the user's cache directory (as hack/build-control-plane.sh). */
export const cacheDir =
  process.env.GCO_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gco');

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes a flock on `path` (created if missing), held until `release()` or until this process ends.
 * Node has no flock, so flock(1) holds it for us: it keeps the lock while its `cat` reads our pipe,
 * which closes when we release, or when we die.
 * With `wait: false`, answers undefined at once when someone else holds a conflicting lock.
 */
export async function lock(
  path: string,
  opts: { shared?: boolean; wait?: boolean } = {},
): Promise<HeldLock | undefined> {
  await mkdir(dirname(path), { recursive: true });
  const args = [opts.shared ? '--shared' : '--exclusive', ...(opts.wait === false ? ['--nonblock'] : [])];
  let holder: ChildProcess;
  try {
    holder = spawn('flock', [...args, path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new Error(`flock (util-linux) is needed to lock the cache: ${(error as Error).message}`);
  }
  let stderr = '';
  holder.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = once(holder, 'exit');
  const locked = await new Promise<boolean>((resolve, reject) => {
    holder.once('error', (error) =>
      reject(new Error(`flock (util-linux) is needed to lock the cache: ${error.message}`)),
    );
    holder.stdout?.once('data', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    const [code] = (await exited) as [number | null];
    if (opts.wait === false && code === 1) return undefined;
    throw new Error(`flock ${path} exited with ${code}: ${stderr}`);
  }
  return {
    async release() {
      if (holder.exitCode !== null || holder.signalCode !== null) return;
      holder.stdin?.end();
      await exited;
    },
  };
}

/** Runs `fn` holding the exclusive lock `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const held = (await lock(path)) as HeldLock;
  try {
    return await fn();
  } finally {
    await held.release();
  }
}

/** A name beside `path` that no other process or call uses. */
export function uniqueTemp(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * The cache entry `path`, made by `make` if it is missing: `make` writes the temporary name it is
 * given, which is renamed to `path` once `make` succeeds. One maker at a time per entry: a second run
 * waits for the first and then finds the entry made.
 * Answers whether this call made it.
 */
export async function cachedEntry(path: string, make: (temp: string) => Promise<void>): Promise<boolean> {
  if (existsSync(path)) return false;
  return withLock(`${path}.lock`, async () => {
    if (existsSync(path)) return false;
    const temp = uniqueTemp(path);
    try {
      await make(temp);
      await rename(temp, path);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return true;
  });
}
