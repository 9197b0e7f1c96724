/**
 * Runs one git command: never through a shell, always with a time limit, with configuration isolated
 * from the machine's (no global or system gitconfig, no prompts), and with the credentials' environment
 * for this one command only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface GitResult {
  code: number | null;
  /** The signal that ended git (a crash, or our kill on timeout), when it did not exit. */
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

export interface GitOptions {
  /** The repository (a bare clone); omitted for commands that need none (ls-remote). */
  gitDir?: string;
  /** Extra environment: credentials, author identity. */
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Environment every git command starts from: nothing of the host's git configuration leaks in. */
export function baseEnvironment(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    SSH_ASKPASS: 'false',
    GIT_SSH_COMMAND: 'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null',
    GIT_PROTOCOL_FROM_USER: '0',
    // Only the transports a repository URL may use; never ext:: or fd::.
    GIT_ALLOW_PROTOCOL: 'http:https:ssh:file',
  };
}

export class GitCommandError extends Error {
  readonly result: GitResult;
  readonly args: string[];
  constructor(args: string[], result: GitResult) {
    const command = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-c') ?? '';
    super(
      result.timedOut
        ? `git ${command} timed out`
        : `git ${command} ${result.code === null ? `was killed by ${result.signal}` : `exited with ${result.code}`}: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
    this.args = args;
    this.result = result;
  }
}

export async function git(args: string[], options: GitOptions): Promise<GitResult> {
  const env = { ...baseEnvironment(), ...options.env };
  if (options.gitDir) env.GIT_DIR = options.gitDir;
  const child = spawn('git', args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  let timedOut = false;
  // Kill the whole process group: git runs helpers (remote-https, ssh, pack-objects) as children.
  const kill = () => {
    timedOut = true;
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  const timer = setTimeout(kill, options.timeoutMs);
  const onAbort = () => kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString(), timedOut };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Runs git and returns stdout, or throws GitCommandError. */
export async function gitOk(args: string[], options: GitOptions): Promise<Buffer> {
  const result = await git(args, options);
  if (result.code !== 0 || result.timedOut) throw new GitCommandError(args, result);
  return result.stdout;
}
