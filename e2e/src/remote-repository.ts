/**
 * A repository on the target's git server, seen only as a git client sees it (smart HTTP with the
 * token), so the same assertions hold for a server on loopback and one inside a cluster.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runOk, tempDir } from '@gco/testenv';
import type { E2ETarget } from './e2e-target.ts';

export class RemoteRepository {
  readonly name: string;
  private readonly target: E2ETarget;
  private readonly mirror: Promise<string>;

  constructor(target: E2ETarget, name: string) {
    this.target = target;
    this.name = name;
    this.mirror = tempDir('gco-e2e-mirror-').then(async (dir) => {
      await runOk('git', ['init', '--quiet', '--bare', dir]);
      return dir;
    });
  }

  /** What goes into a GitCommit or PullRequest. */
  get url(): string {
    return this.target.operatorUrl(this.name);
  }

  /** Creates the repository with a first commit on main (the server creates it on this push). */
  async create(files: Record<string, string> = { 'README.md': `# ${this.name}\n` }): Promise<this> {
    const work = await tempDir('gco-e2e-work-');
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(work, path, '..'), { recursive: true });
      await writeFile(join(work, path), content);
    }
    await runOk('git', ['init', '--quiet', '--initial-branch=main', work]);
    await runOk('git', ['-C', work, 'add', '--all']);
    await runOk('git', [
      '-C',
      work,
      '-c',
      'user.name=e2e',
      '-c',
      'user.email=e2e@example.com',
      'commit',
      '--quiet',
      '-m',
      'Initial commit',
    ]);
    await this.git(['-C', work, 'push', '--quiet', this.target.suiteUrl(this.name), 'main']);
    return this;
  }

  /** Fetches every branch; call before reading. */
  async fetch(): Promise<void> {
    await this.git([
      '--git-dir',
      await this.mirror,
      'fetch',
      '--quiet',
      '--prune',
      this.target.suiteUrl(this.name),
      '+refs/heads/*:refs/heads/*',
    ]);
  }

  /** The local bare mirror (as last fetched), for what reads a repository directly (exactly-once.ts). */
  gitDir(): Promise<string> {
    return this.mirror;
  }

  /** A file at a branch's tip (as last fetched), or undefined when it is not there. */
  async file(branch: string, path: string): Promise<string | undefined> {
    const r = await run('git', ['--git-dir', await this.mirror, 'cat-file', 'blob', `refs/heads/${branch}:${path}`]);
    return r.code === 0 ? r.stdout : undefined;
  }

  /** `git log` over a branch with a format, one entry per commit. */
  async log(branch: string, format: string): Promise<string[]> {
    const out = await runOk('git', [
      '--git-dir',
      await this.mirror,
      'log',
      `--format=${format}%x00`,
      `refs/heads/${branch}`,
    ]);
    return out
      .split('\0')
      .map((s) => s.replace(/^\n/, ''))
      .filter((s) => s !== '' && s !== '\n');
  }

  /** Paths of the files at a branch's tip that contain a string. */
  async grep(branch: string, text: string): Promise<string[]> {
    const r = await run('git', ['--git-dir', await this.mirror, 'grep', '-l', '-F', text, `refs/heads/${branch}`]);
    return r.stdout.split('\n').filter(Boolean);
  }

  private async git(args: string[]): Promise<void> {
    // The token as HTTP basic auth in a header passed through the environment: not in a URL that git
    // could write to a config file, nor in the arguments an error message repeats.
    const basic = Buffer.from(`x-access-token:${this.target.token}`).toString('base64');
    await runOk('git', args, {
      timeoutMs: 120_000,
      env: {
        ...process.env,
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      },
    });
  }
}
