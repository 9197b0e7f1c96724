/**
 * A slot for a test node on this machine (hack/node/node.sh owns the host side: network namespace,
 * veth, bridge, cgroups, directories). A slot is in use while its lock is held; this process holds it
 * through a `flock` child whose stdin is a pipe from here, so the lock goes with this process however it
 * ends, and the next run that takes the slot cleans up whatever a killed run left in it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';
import { cleanUpOnExit, runOk } from './processes.ts';

export const nodeScript = join(repoRoot, 'hack/node/node.sh');
const maxSlots = 8;

/** What node.sh derives from a slot number (`node.sh layout SLOT`). */
export interface NodeLayout {
  slot: number;
  nodeName: string;
  netns: string;
  /** The host's end of the veth: where the API server listens and pods reach this machine. */
  hostAddress: string;
  podSubnet: string;
  /** The bridge's address: the pods' gateway, the node's InternalIP and the cluster DNS address. */
  gateway: string;
  bridge: string;
  cgroup: string;
  stateDir: string;
  runDir: string;
  lock: string;
  containerdSocket: string;
}

export async function nodeLayout(slot: number): Promise<NodeLayout> {
  const out = await runOk('bash', [nodeScript, 'layout', String(slot)]);
  const v = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const get = (name: string) => {
    const value = v[name];
    if (value === undefined) throw new Error(`node.sh layout printed no ${name}`);
    return value;
  };
  return {
    slot,
    nodeName: get('NODE_NAME'),
    netns: get('NETNS'),
    hostAddress: get('HOST_ADDRESS'),
    podSubnet: get('POD_SUBNET'),
    gateway: get('GATEWAY'),
    bridge: get('BRIDGE'),
    cgroup: get('CGROUP'),
    stateDir: get('STATE_DIR'),
    runDir: get('RUN_DIR'),
    lock: get('LOCK'),
    containerdSocket: get('CONTAINERD_SOCKET'),
  };
}

export class NodeSlot {
  readonly layout: NodeLayout;
  private readonly holder: ChildProcess;
  private forgetCleanup: () => void = () => {};

  private constructor(layout: NodeLayout, holder: ChildProcess) {
    this.layout = layout;
    this.holder = holder;
  }

  /** The first free slot (or `slot`, waiting for nobody: a slot in use is an error). */
  static async acquire(slot?: number): Promise<NodeSlot> {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'The test node needs root (network namespaces, cgroups, mounts). Run the tests as root, as CI does.',
      );
    }
    await mkdir('/run/gco', { recursive: true });
    const candidates = slot === undefined ? [...Array(maxSlots).keys()] : [slot];
    for (const s of candidates) {
      const layout = await nodeLayout(s);
      const holder = await tryLock(layout.lock);
      if (holder) return new NodeSlot(layout, holder);
    }
    throw new Error(
      slot === undefined
        ? `All ${maxSlots} test node slots are in use by other runs on this machine (locks /run/gco/node*.lock).`
        : `Test node slot ${slot} is in use by another run on this machine (${(await nodeLayout(slot)).lock}).`,
    );
  }

  /** Removes what a previous run left in the slot, then makes its network, cgroups and directories. */
  async reset(): Promise<void> {
    this.forgetCleanup = cleanUpOnExit(() => {
      execFileSync('bash', [nodeScript, 'down', String(this.layout.slot)], { stdio: 'ignore', timeout: 60_000 });
    });
    await this.down();
    await runOk('bash', [nodeScript, 'up', String(this.layout.slot)], { timeoutMs: 60_000 });
  }

  /**
   * Command and arguments that run `binary` inside the slot: its cgroup, and its network namespace
   * unless `hostNetwork` (the control plane, which serves on the machine's end of the veth).
   */
  command(binary: string, args: string[], opts: { hostNetwork?: boolean } = {}): [string, string[]] {
    const where = opts.hostNetwork ? ['--host'] : [];
    return ['bash', [nodeScript, 'exec', String(this.layout.slot), ...where, binary, ...args]];
  }

  /** Kills every process left in the slot and removes its mounts, network, cgroups and files. */
  async down(): Promise<void> {
    await runOk('bash', [nodeScript, 'down', String(this.layout.slot)], { timeoutMs: 60_000 });
  }

  /** Cleans up the slot and lets another run take it. */
  async release(): Promise<void> {
    try {
      await this.down();
    } finally {
      this.forgetCleanup();
      this.holder.stdin?.end();
      this.holder.kill();
    }
  }
}

/** Holds `lock` through a `flock` child for as long as its stdin stays open; undefined when taken. */
function tryLock(lock: string): Promise<ChildProcess | undefined> {
  const child = spawn('flock', ['-n', '-E', '75', lock, 'sh', '-c', 'echo locked && exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.once('data', () => {
      // Neither the child nor its pipes keep this process alive; its end releases the lock.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr]) {
        (stream as unknown as { unref?: () => void } | null)?.unref?.();
      }
      resolve(child);
    });
    child.once('exit', (code) => {
      if (code === 75) resolve(undefined);
      else reject(new Error(`flock ${lock} exited with ${code}: ${stderr}`));
    });
    child.once('error', reject);
  });
}
