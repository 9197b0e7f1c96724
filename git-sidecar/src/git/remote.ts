/**
 * The git commands that talk to the remote: fetch one branch, find the default branch, push.
 */
import { classifyRemoteFailure, Reason, SidecarError } from '../errors.ts';
import { GitCommandError, git } from './command.ts';

export interface GitContext {
  gitDir: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
}

export const trailerKeys = { source: 'Gco-Source', execution: 'Gco-Execution' } as const;

export function remoteRef(branch: string): string {
  return `refs/remotes/origin/${branch}`;
}

/**
 * Fetches one branch into refs/remotes/origin/<branch>: blobless unless the clone was found to be full.
 * Reports whether the branch exists, and whether the server refused the filter (so the clone can be
 * marked full).
 */
export async function fetchBranch(
  ctx: GitContext,
  branch: string,
  partial: boolean,
): Promise<{ found: boolean; filterRefused: boolean }> {
  const args = [
    'fetch',
    '--quiet',
    '--no-tags',
    '--no-auto-gc',
    '--no-recurse-submodules',
    '--no-write-fetch-head',
    ...(partial ? ['--filter=blob:none'] : []),
    'origin',
    `+refs/heads/${branch}:${remoteRef(branch)}`,
  ];
  const result = await git(args, ctx);
  const filterRefused = /filtering not recognized by server/.test(result.stderr);
  if (result.code !== 0 || result.timedOut) {
    if (!result.timedOut && /couldn't find remote ref/.test(result.stderr)) {
      await git(['update-ref', '-d', remoteRef(branch)], ctx);
      return { found: false, filterRefused };
    }
    throw classifyRemoteFailure(new GitCommandError(args, result), `fetching branch ${branch}`);
  }
  return { found: true, filterRefused };
}

/** The remote's default branch, from its HEAD symref; `empty` when the repository has no commits. */
export async function remoteDefaultBranch(
  ctx: Omit<GitContext, 'gitDir'> & { gitDir?: string },
  url: string,
): Promise<{ branch: string; empty: boolean }> {
  const args = ['ls-remote', '--symref', url, 'HEAD'];
  const result = await git(args, ctx);
  if (result.code !== 0 || result.timedOut) {
    throw classifyRemoteFailure(new GitCommandError(args, result), 'reading the default branch');
  }
  const out = result.stdout.toString();
  const symref = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out);
  const hasCommit = /^[0-9a-f]{40,64}\tHEAD$/m.test(out);
  // A server that does not advertise an unborn HEAD says nothing for an empty repository: git's own
  // default then applies, as `git clone` would do.
  return { branch: symref?.[1] ?? 'main', empty: !hasCommit };
}

export function commitMessage(message: string, trailers: { source: string; execution: string }): string {
  const lines = [message.trimEnd(), ''];
  if (trailers.source) lines.push(`${trailerKeys.source}: ${trailers.source}`);
  lines.push(`${trailerKeys.execution}: ${trailers.execution}`);
  return `${lines.join('\n')}\n`;
}

/** Rejections that mean the branch moved under us: refetch, re-apply, push again. */
const retryablePush =
  /fetch first|non-fast-forward|cannot lock ref|incorrect old value|failed to update ref|stale info/i;

export type PushOutcome = { ok: true } | { ok: false; retryable: true; reason: string };

/**
 * Pushes `sha` to the branch. Fast-forward only, unless `lease` is given: then the branch is forced,
 * but only if it still points where we saw it (`''`: only if it does not exist).
 */
export async function push(ctx: GitContext, sha: string, branch: string, lease?: string): Promise<PushOutcome> {
  const args = [
    // No delta search: deltas against the old blobs at the same paths would make git fetch each of them
    // lazily (a blobless clone does not have them), one round trip per changed file, during the push.
    '-c',
    'pack.window=0',
    'push',
    '--porcelain',
    '--no-verify',
    ...(lease !== undefined ? [`--force-with-lease=refs/heads/${branch}:${lease}`] : []),
    'origin',
    `${sha}:refs/heads/${branch}`,
  ];
  const result = await git(args, ctx);
  // On success git itself moves refs/remotes/origin/<branch> (the clone's fetch refspec maps it).
  if (result.code === 0 && !result.timedOut) return { ok: true };
  const text = `${result.stdout.toString()}\n${result.stderr}`;
  if (!result.timedOut && retryablePush.test(text)) {
    const reason = /fetch first|non-fast-forward|stale info/i.test(text) ? 'branch-moved' : 'ref-lock';
    return { ok: false, retryable: true, reason };
  }
  // A ref such as refs/heads/refs/heads/main on the remote (made by a tool without our branch rules)
  // makes git's name for the target ambiguous; no retry can fix that, and git's words do not say what to do.
  if (/dst refspec \S+ matches more than one/.test(text)) {
    throw new SidecarError(
      Reason.PUSH_REJECTED,
      `pushing to ${branch}: the remote has another ref that git also reads as refs/heads/${branch} ` +
        `(such as refs/heads/refs/heads/${branch}); delete it on the remote ` +
        `(git push <remote> --delete refs/heads/refs/heads/${branch}) and the next attempt will push`,
    );
  }
  const rejected = /\[remote rejected\] \(([^)]*)\)|\[rejected\] \(([^)]*)\)/.exec(text);
  if (rejected) {
    const said = text
      .split('\n')
      .filter((l) => /^remote: /.test(l.trim()))
      .map((l) => l.trim().replace(/^remote: /, ''))
      .filter(Boolean)
      .slice(0, 3)
      .join(' ');
    throw new SidecarError(
      Reason.PUSH_REJECTED,
      `the server refused the push to ${branch} (${rejected[1] ?? rejected[2]}${said ? `: ${said}` : ''}): ` +
        "see the server's rules for this branch (protected branch, required reviews, hooks), or write to another branch",
    );
  }
  throw classifyRemoteFailure(new GitCommandError(args, result), `pushing to ${branch}`);
}
