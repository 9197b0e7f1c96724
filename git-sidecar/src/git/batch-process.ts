/**
 * A long-lived git process spoken to over stdin/stdout, one request at a time in order
 * (`cat-file --batch`, `mktree --batch`). One process per job batch replaces dozens of short ones,
 * which is most of the cost of a commit into a big tree.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Reason, SidecarError } from '../errors.ts';
import { baseEnvironment } from './command.ts';

type Parser<T> = (buffer: Buffer) => { value: T; consumed: number } | undefined;

interface Pending {
  parse: Parser<unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class BatchProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly queue: Pending[] = [];
  private stderr = '';
  private failure: Error | undefined;
  private readonly name: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(args: string[], opts: { gitDir: string; env: NodeJS.ProcessEnv; timeoutMs: number }) {
    this.name = `git ${args[0]}`;
    this.child = spawn('git', args, {
      env: { ...baseEnvironment(), ...opts.env, GIT_DIR: opts.gitDir },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4096);
    });
    this.child.stdin.on('error', () => {});
    this.child.on('error', (error) => this.fail(error));
    this.child.on('close', (code, signal) =>
      this.fail(
        new Error(
          `${this.name} ${code === null ? `was killed by ${signal}` : `exited with ${code}`}: ${this.stderr.trim() || 'no message from git'}`,
        ),
      ),
    );
    // A hard limit for the whole life of the process: a batch never outlives its job's deadline.
    this.timer = setTimeout(
      () => this.kill(new SidecarError(Reason.TIMEOUT, `${this.name} did not finish within its time limit`)),
      opts.timeoutMs,
    );
  }

  request<T>(input: string | Buffer, parse: Parser<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ parse, resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(input);
    });
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (!head) return;
      const parsed = head.parse(this.buffer);
      if (!parsed) return;
      this.buffer = this.buffer.subarray(parsed.consumed);
      this.queue.shift();
      head.resolve(parsed.value);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.timer) clearTimeout(this.timer);
    for (const pending of this.queue.splice(0)) pending.reject(this.failure);
  }

  private kill(error: Error): void {
    this.fail(error);
    try {
      if (this.child.pid) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Ends the process: closes stdin and waits for it to exit. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.stdin.end();
    const force = setTimeout(() => this.kill(new Error(`${this.name} did not exit`)), 2000);
    await exited;
    clearTimeout(force);
  }
}

/** Reads one line (without its newline) from the start of the buffer. */
export function parseLine(buffer: Buffer): { value: string; consumed: number } | undefined {
  const end = buffer.indexOf(0x0a);
  if (end < 0) return undefined;
  return { value: buffer.subarray(0, end).toString(), consumed: end + 1 };
}
