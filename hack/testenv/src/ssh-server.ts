/**
 * A real SSH git server for tests: Debian's OpenSSH sshd with its own host key and an authorized client
 * key, on a loopback port unless told another address (the test node's pods reach this machine only at
 * `Cluster.hostAddress`). Like hosting services, it serves only git commands, and maps
 * `ssh://<user>@<address>:<port>/<name>` to `<root>/<name>`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.ts';
import { type ManagedProcess, removeOnExit, runOk, startProcess } from './processes.ts';

const gitShell = join(import.meta.dirname, 'git-ssh-shell.sh');
const sshdPath = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));

export interface SshKeyPair {
  privateKeyPath: string;
  privateKey: string;
  publicKey: string;
}

export async function generateSshKey(dir: string, name: string): Promise<SshKeyPair> {
  const privateKeyPath = join(dir, name);
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privateKeyPath]);
  return {
    privateKeyPath,
    privateKey: await readFile(privateKeyPath, 'utf8'),
    publicKey: (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim(),
  };
}

export interface SshGitServerOptions {
  /** The IPv4 address sshd listens on, in the URL and the known_hosts line. Default: 127.0.0.1. */
  address?: string;
}

export class SshGitServer {
  readonly root: string;
  readonly address: string;
  /** The login user is this process's own: sshd only logs in users the machine has. */
  readonly user = userInfo().username;
  port = 0;
  /** The key clients use to log in. */
  clientKey!: SshKeyPair;
  /** A `known_hosts` line for this server's host key. */
  knownHosts = '';
  private dir = '';
  private process: ManagedProcess | undefined;
  private forgetDir: () => void = () => {};

  constructor(root: string, options: SshGitServerOptions = {}) {
    this.root = root;
    this.address = options.address ?? '127.0.0.1';
  }

  url(name: string): string {
    return `ssh://${this.user}@${this.address}:${this.port}/${name}`;
  }

  /** A `known_hosts` line naming this server with `publicKey`: its own host key, or an impostor's. */
  knownHostsWithKey(publicKey: string): string {
    return `[${this.address}]:${this.port} ${publicKey.split(' ').slice(0, 2).join(' ')}`;
  }

  async start(): Promise<this> {
    if (!sshdPath) {
      throw new Error(
        'sshd is not installed: the SSH git server needs OpenSSH. Run `npm run setup` or `apt-get install -y openssh-server`.',
      );
    }
    this.dir = await mkdtemp(join(tmpdir(), 'gco-sshd-'));
    await chmod(this.dir, 0o700);
    this.forgetDir = removeOnExit(this.dir);
    this.port = await freePort(this.address);
    const hostKey = await generateSshKey(this.dir, 'host_ed25519');
    this.clientKey = await generateSshKey(this.dir, 'client_ed25519');
    this.knownHosts = this.knownHostsWithKey(hostKey.publicKey);
    await writeFile(join(this.dir, 'authorized_keys'), `restrict ${this.clientKey.publicKey}\n`, { mode: 0o600 });
    const config = join(this.dir, 'sshd_config');
    await writeFile(
      config,
      [
        `Port ${this.port}`,
        `ListenAddress ${this.address}`,
        `HostKey ${hostKey.privateKeyPath}`,
        `PidFile ${join(this.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        `AllowUsers ${this.user}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'AcceptEnv GIT_PROTOCOL',
        `ForceCommand GCO_GIT_ROOT='${this.root}' ${gitShell}`,
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    // As root, sshd insists on its privilege-separation directory.
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    this.process = startProcess(sshdPath, ['-D', '-e', '-f', config], join(this.dir, 'sshd.log'));
    await waitFor(async () => existsSync(join(this.dir, 'sshd.pid')), {
      timeoutMs: 10_000,
      describe: async () =>
        `sshd did not start:\n${await readFile(join(this.dir, 'sshd.log'), 'utf8').catch(() => '')}`,
    });
    return this;
  }

  /** Environment for a git command that talks to this server with the client key and pinned host key. */
  async gitEnvironment(opts: { knownHosts?: string } = {}): Promise<NodeJS.ProcessEnv> {
    const knownHostsPath = join(this.dir, `known_hosts_${Math.random().toString(36).slice(2)}`);
    await writeFile(knownHostsPath, `${opts.knownHosts ?? this.knownHosts}\n`, { mode: 0o600 });
    return {
      ...process.env,
      GIT_SSH_COMMAND: [
        'ssh -F /dev/null',
        `-i ${this.clientKey.privateKeyPath}`,
        '-o IdentitiesOnly=yes',
        `-o UserKnownHostsFile=${knownHostsPath}`,
        '-o GlobalKnownHostsFile=/dev/null',
        '-o StrictHostKeyChecking=yes',
        '-o BatchMode=yes',
      ].join(' '),
      GIT_TERMINAL_PROMPT: '0',
    };
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.forgetDir();
  }
}
