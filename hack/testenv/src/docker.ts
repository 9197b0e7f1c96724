/**
 * A private Docker engine for building and running the project's images: Debian's dockerd with its own
 * data root (in the cache, so layers and the base image survive between runs), exec root and socket,
 * and none of the machine's network settings touched (no iptables rules, no bridge, no ip_forward):
 * builds and containers use the host's network. It never uses or disturbs a Docker the machine may run.
 *
 * One engine per data root, shared by every run that needs it at the same time: each user holds a
 * shared lock for as long as it uses the engine; the first starts it, the last to leave stops it.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDir, type HeldLock, lock, withLock } from './cache.ts';
import { type RunResult, run } from './processes.ts';

const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));
// Debian's client, of the engine's version. Another `docker` earlier on PATH may be a newer client that
// builds with BuildKit only through the buildx plugin, which Debian's engine does not come with.
const dockerCli = ['/usr/bin/docker'].find((p) => existsSync(p));

const root = join(cacheDir, 'docker');
const dataRoot = join(root, 'data');
// Sockets have a 108-byte path limit, which a cache under a deep home directory could pass: the
// engine's runtime files go to a short directory named after its data root.
const runDir = join(tmpdir(), `gco-docker-${createHash('sha256').update(dataRoot).digest('hex').slice(0, 12)}`);
const socket = join(runDir, 'docker.sock');
const pidFile = join(runDir, 'dockerd.pid');
const logPath = join(root, 'dockerd.log');
const usersLock = join(root, 'users.lock');
const startLock = join(root, 'start.lock');

export interface Docker {
  /** The engine's socket (`unix://` + this is its DOCKER_HOST). */
  socket: string;
  /** Environment for a `docker` command against this engine. */
  env: NodeJS.ProcessEnv;
  /** Runs Debian's docker client against this engine. */
  run(args: string[], opts?: SpawnOptions & { input?: string | Buffer; timeoutMs?: number }): Promise<RunResult>;
  /** Like run, but rejects with the output when the command fails; answers its stdout. */
  ok(args: string[], opts?: SpawnOptions & { input?: string | Buffer; timeoutMs?: number }): Promise<string>;
  /** This user is done with the engine: the last one stops it. */
  release(): Promise<void>;
}

function missing(what: string): Error {
  return new Error(
    `${what} is not installed: the image builds need Debian's Docker engine. Run \`npm run setup\` (hack/setup.sh) or \`apt-get install -y docker.io\`.`,
  );
}

function ping(timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Whether `pid` runs (a zombie, which nobody may reap here, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The running engine's process id, if it runs. */
export async function enginePid(): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  return pid > 0 && running(pid) ? pid : undefined;
}

async function stopDaemon(): Promise<void> {
  const pid = await enginePid();
  if (pid === undefined) return;
  // dockerd stops its containers and its containerd first; give it the time that takes.
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (running(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await sleep(100);
  }
  await removeRunDir();
}

const mountsUnder = async (dir: string) =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));

/**
 * The stopped engine's runtime files. dockerd leaves its network namespace bind-mounted there
 * (exec/netns/default) once a container has run: unmounted first, and nothing is removed while
 * anything stays mounted (never remove through a mount).
 */
async function removeRunDir(): Promise<void> {
  for (const point of (await mountsUnder(runDir)).sort().reverse()) await run('umount', [point]);
  if ((await mountsUnder(runDir)).length === 0) await rm(runDir, { recursive: true, force: true });
}

async function startDaemon(): Promise<void> {
  if (!dockerd) throw missing('dockerd');
  // An engine that no longer answers (a run killed mid-start) is replaced.
  await stopDaemon();
  await rm(socket, { force: true });
  await mkdir(dataRoot, { recursive: true });
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  // Its own (empty) configuration: never the machine's /etc/docker/daemon.json.
  const config = join(root, 'daemon.json');
  await writeFile(config, '{}\n');
  const log = openSync(logPath, 'a');
  const child = spawn(
    dockerd,
    [
      `--data-root=${dataRoot}`,
      `--exec-root=${join(runDir, 'exec')}`,
      `--host=unix://${socket}`,
      `--pidfile=${pidFile}`,
      `--config-file=${config}`,
      '--storage-driver=overlay2',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
      '--log-level=warn',
    ],
    {
      // Not a child of this run: another run may still use it when this one ends.
      detached: true,
      stdio: ['ignore', log, log],
      // Debian's containerd and runc, whatever else is on PATH (a node's containerd 2.x may be).
      env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}` },
    },
  );
  child.unref();
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 120_000;
  while (!(await ping())) {
    if (exited !== undefined || Date.now() > deadline) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
      throw new Error(`dockerd did not start (${exited !== undefined ? `exited ${exited}` : 'timed out'}):\n${tail}`);
    }
    await sleep(200);
  }
}

function client(users: HeldLock): Docker {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_BUILDKIT: '1',
    // Never the user's ~/.docker (credential helpers, contexts, another default host).
    DOCKER_CONFIG: join(root, 'client'),
  };
  const runDocker: Docker['run'] = (args, opts = {}) => {
    if (!dockerCli) throw missing('docker (Debian docker.io)');
    return run(dockerCli, args, { timeoutMs: 600_000, ...opts, env: { ...env, ...opts.env } });
  };
  let released = false;
  return {
    socket,
    env,
    run: runDocker,
    async ok(args, opts) {
      const result = await runDocker(args, opts);
      if (result.code !== 0) {
        throw new Error(`docker ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
      }
      return result.stdout;
    },
    async release() {
      if (released) return;
      released = true;
      await users.release();
      await withLock(startLock, async () => {
        const alone = await lock(usersLock, { wait: false });
        if (!alone) return;
        try {
          await stopDaemon();
        } finally {
          await alone.release();
        }
      });
    },
  };
}

/** The engine, started if nobody runs it yet. Call `release()` when done. */
export async function useDocker(): Promise<Docker> {
  if (!dockerd) throw missing('dockerd');
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the image builds and tests run their own Docker engine (dockerd), which needs root: run them as root',
    );
  }
  if (!dockerCli) throw missing('docker (Debian docker.io)');
  const users = (await lock(usersLock, { shared: true })) as HeldLock;
  try {
    await withLock(startLock, async () => {
      if (!(await ping())) await startDaemon();
    });
  } catch (error) {
    await users.release();
    throw error;
  }
  return client(users);
}

let shared: Promise<Docker> | undefined;

/** One engine user per test process, released by the root hook (mocha-hooks.ts). */
export function sharedDocker(): Promise<Docker> {
  shared ??= useDocker();
  shared.catch(() => {
    shared = undefined;
  });
  return shared;
}

export async function releaseSharedDocker(): Promise<void> {
  if (!shared) return;
  const docker = await shared.catch(() => undefined);
  shared = undefined;
  await docker?.release();
}
