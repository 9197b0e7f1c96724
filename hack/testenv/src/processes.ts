/**
 * Child processes that never outlive the test run: every process started here is killed when the run
 * ends, whether tests pass, fail, or the run is interrupted (SIGINT/SIGTERM). Each is started in its own
 * process group so that its own children (git, sshd sessions) go with it.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, rmSync } from 'node:fs';

const running = new Set<ChildProcess>();
const directories = new Set<string>();
const exitCleanups = new Set<() => void>();

/** Removes `dir` when the run ends, even when it is interrupted. */
export function removeOnExit(dir: string): () => void {
  installExitHandlers();
  directories.add(dir);
  return () => directories.delete(dir);
}

/**
 * Runs `cleanup` (synchronously: the process is exiting) when the run ends without having called the
 * returned function, after every child process was killed and before directories are removed.
 */
export function cleanUpOnExit(cleanup: () => void): () => void {
  installExitHandlers();
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
    for (const cleanup of exitCleanups) {
      try {
        cleanup();
      } catch {
        // the next run cleans up what is left
      }
    }
    for (const dir of directories) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // A program of its own (the development git server, the demo) that handles the signal shuts
      // down gracefully and exits itself; exiting here first made it die with 128+n. Whatever it
      // leaves running is still killed by the exit hook above.
      if (process.listenerCount(signal) > 0) return;
      for (const child of running) killGroup(child, 'SIGKILL');
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

export interface ManagedProcess {
  child: ChildProcess;
  /** Path of the file holding the process's stdout and stderr, for error messages. */
  logPath: string;
  stop(timeoutMs?: number): Promise<void>;
}

/** Starts a long-running process with its output in `logPath`. */
export function startProcess(
  command: string,
  args: string[],
  logPath: string,
  options: SpawnOptions = {},
): ManagedProcess {
  installExitHandlers();
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
  });
  child.once('error', () => running.delete(child));
  return {
    child,
    logPath,
    async stop(timeoutMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      log.end();
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. Rejects only if it cannot be started. */
export async function run(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<RunResult> {
  installExitHandlers();
  const { input, timeoutMs = 60_000, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => stdout.push(d));
  child.stderr?.on('data', (d: Buffer) => stderr.push(d));
  child.stdin?.on('error', () => {});
  child.stdin?.end(input ?? '');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
  } finally {
    clearTimeout(timer);
    running.delete(child);
  }
}

/** Like `run`, but rejects with the command's output when it exits non-zero. */
export async function runOk(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}
