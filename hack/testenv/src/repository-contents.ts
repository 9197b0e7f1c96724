/** What a bare repository really holds, read with git itself: what tests assert commits against. */
import { run, runOk } from './processes.ts';

/** A file's content on a branch of a bare repository, or undefined. */
export async function fileAt(gitDir: string, branch: string, path: string): Promise<string | undefined> {
  const result = await run('git', ['--git-dir', gitDir, 'cat-file', '-p', `refs/heads/${branch}:${path}`]);
  return result.code === 0 ? result.stdout : undefined;
}

export async function commitCount(gitDir: string, branch: string): Promise<number> {
  const result = await run('git', ['--git-dir', gitDir, 'rev-list', '--count', `refs/heads/${branch}`]);
  return result.code === 0 ? Number(result.stdout.trim()) : 0;
}

export async function headOf(gitDir: string, branch: string): Promise<string> {
  return (await runOk('git', ['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`])).trim();
}

/** Execution ids of the commits on a branch, oldest first. */
export async function executionsOn(gitDir: string, branch: string): Promise<string[]> {
  const out = await runOk('git', [
    '--git-dir',
    gitDir,
    'log',
    '--reverse',
    '--format=%(trailers:key=Gco-Execution,valueonly)',
    `refs/heads/${branch}`,
  ]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
