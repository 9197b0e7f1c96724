/**
 * A git that crashes, for tests of what a bug looks like: a `git` script put first on a sidecar's PATH
 * that kills itself with SIGSEGV when asked for one subcommand in a clone of a repository whose URL
 * contains a marker, and runs the real git otherwise. The sidecar sees exactly what a crashing git
 * binary gives it (no exit code, a signal), so nothing in the sidecar is told it is being tested.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './processes.ts';
import { tempDir } from './temp.ts';

export interface CrashingGit {
  /** The directory to put first on PATH. */
  dir: string;
  /** PATH with that directory first. */
  path: string;
}

export async function crashingGit(opts: { subcommand: string; urlMarker: string }): Promise<CrashingGit> {
  const real = (await runOk('sh', ['-c', 'command -v git'])).trim();
  const dir = await tempDir('gco-crashing-git-');
  const script = [
    '#!/bin/sh',
    // No core file wherever the sidecar runs.
    'ulimit -c 0',
    `if [ "$1" = '${opts.subcommand}' ] && [ -n "$GIT_DIR" ] && grep -q '${opts.urlMarker}' "$GIT_DIR/config" 2>/dev/null; then`,
    '  kill -SEGV $$',
    'fi',
    `exec '${real}' "$@"`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'git'), script);
  await chmod(join(dir, 'git'), 0o755);
  return { dir, path: `${dir}:${process.env.PATH ?? ''}` };
}
