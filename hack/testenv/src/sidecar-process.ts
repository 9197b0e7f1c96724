/**
 * The real git sidecar as a separate process on its real Unix socket, as the controller uses it.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { entryPoint } from './entry-point.ts';
import { freePort, waitFor } from './net.ts';
import { repoRoot } from './paths.ts';
import { type ManagedProcess, startProcess } from './processes.ts';
import { tempDir } from './temp.ts';

export interface SidecarProcess {
  socketPath: string;
  dataDir: string;
  logPath: string;
  /** The loopback port of its /metrics. */
  metricsPort: number;
  process: ManagedProcess;
  logs(): Promise<string>;
  /** SIGTERM: the sidecar finishes running jobs and exits. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an OOM kill would. */
  kill(): Promise<void>;
}

export async function startSidecar(
  opts: {
    dataDir?: string;
    /** A socket path of an earlier sidecar, for a restart the operator must reconnect to. */
    socketPath?: string;
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** False: return as soon as the process is started, for a test that holds its start (default true). */
    wait?: boolean;
  } = {},
): Promise<SidecarProcess> {
  const dir = await tempDir('gco-sidecar-');
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const socketPath = opts.socketPath ?? join(dir, 'sidecar.sock');
  // A killed sidecar leaves its socket file: waiting for it to appear must wait for the new one.
  await rm(socketPath, { force: true });
  const logPath = join(dir, 'sidecar.log');
  // Chosen here rather than read from the log, which a quieter --log-level would leave out.
  const metricsPort = await freePort();
  const proc = startProcess(
    join(repoRoot, 'node_modules/.bin/node'),
    [
      ...entryPoint('git-sidecar'),
      `--socket=${socketPath}`,
      `--data-dir=${dataDir}`,
      '--log-level=debug',
      `--metrics-address=127.0.0.1:${metricsPort}`,
      ...(opts.args ?? []),
    ],
    logPath,
    { env: { ...process.env, ...opts.env } },
  );
  const logs = () => readFile(logPath, 'utf8').catch(() => '');
  // The socket appears once the sidecar has recovered its data directory and listens.
  if (opts.wait !== false)
    await waitFor(async () => existsSync(socketPath), {
      timeoutMs: 30_000,
      describe: async () => `the git sidecar did not start:\n${await logs()}`,
    });
  return {
    socketPath,
    dataDir,
    logPath,
    metricsPort,
    process: proc,
    logs,
    stop: () => proc.stop(30_000),
    async kill() {
      if (proc.child.pid) process.kill(-proc.child.pid, 'SIGKILL');
      await proc.stop();
    },
  };
}
