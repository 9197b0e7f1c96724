/**
 * Hands credentials to git for one job and takes them back afterwards. They travel only through the
 * environment of the git processes and through files in a private (0700) temporary directory that is
 * removed when the job ends: never through `.git/config`, a URL, a command line, or a log line.
 *
 * - HTTP token or username/password: an `Authorization: Basic` header scoped to the repository's origin
 *   (`http.<origin>/.extraHeader`, given as GIT_CONFIG_COUNT/KEY/VALUE environment).
 * - Private CA: `http.<origin>/.sslCAInfo` pointing at a PEM file.
 * - SSH: a key file and a known_hosts file with StrictHostKeyChecking=yes. Without known_hosts nothing
 *   can connect: host keys are always verified.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Credentials } from '@gco/sidecar-api';
import type { RemoteUrl } from '../store/remote-url.ts';

export interface GitCredentials {
  /** Environment for every git command of the job (including lazy fetches run by git itself). */
  env: NodeJS.ProcessEnv;
  /** Secret strings, so that any text leaving the sidecar can be scrubbed of them. */
  secrets: string[];
  dispose(): Promise<void>;
}

const sshOptions = [
  '-F /dev/null',
  '-o IdentitiesOnly=yes',
  '-o BatchMode=yes',
  '-o StrictHostKeyChecking=yes',
  '-o GlobalKnownHostsFile=/dev/null',
  '-o ConnectTimeout=20',
  '-o ServerAliveInterval=15',
];

/** Secrets of the jobs in flight: every log line and error leaving the sidecar is scrubbed of them. */
const activeSecrets = new Map<string, number>();

/** Secrets held now: those of the jobs in flight, none once they are answered. */
export function activeSecretCount(): number {
  return activeSecrets.size;
}

export function redactActiveSecrets(text: string): string {
  return redact(text, [...activeSecrets.keys()]);
}

function hold(secrets: string[]): () => void {
  for (const s of secrets) activeSecrets.set(s, (activeSecrets.get(s) ?? 0) + 1);
  return () => {
    for (const s of secrets) {
      const n = (activeSecrets.get(s) ?? 1) - 1;
      if (n <= 0) activeSecrets.delete(s);
      else activeSecrets.set(s, n);
    }
  };
}

export async function materializeCredentials(
  url: RemoteUrl,
  credentials: Credentials | undefined,
  tmpRoot: string,
): Promise<GitCredentials> {
  const dir = join(tmpRoot, `job-${randomBytes(8).toString('hex')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const config: Array<[string, string]> = [];
    const secrets: string[] = [];
    const env: NodeJS.ProcessEnv = {};
    const method = credentials?.method;

    if (url.transport === 'http') {
      const scope = `http.${url.origin}/`;
      let user: string | undefined;
      let password: string | undefined;
      if (method?.case === 'token') {
        user = method.value.username || 'x-access-token';
        password = method.value.token;
      } else if (method?.case === 'basic') {
        user = method.value.username;
        password = method.value.password;
      }
      if (password !== undefined && user !== undefined) {
        const header = Buffer.from(`${user}:${password}`).toString('base64');
        config.push([`${scope}.extraHeader`, `Authorization: Basic ${header}`]);
        secrets.push(password, header);
      }
      if (credentials?.caCertificate && credentials.caCertificate.length > 0) {
        const caPath = join(dir, 'ca.pem');
        await writeFile(caPath, credentials.caCertificate, { mode: 0o600 });
        config.push([`${scope}.sslCAInfo`, caPath]);
      }
    } else if (url.transport === 'ssh') {
      const knownHosts = join(dir, 'known_hosts');
      const options = [...sshOptions, `-o UserKnownHostsFile=${knownHosts}`];
      await writeFile(knownHosts, method?.case === 'ssh' ? method.value.knownHosts : new Uint8Array(), { mode: 0o600 });
      if (method?.case === 'ssh' && method.value.privateKey.length > 0) {
        const keyPath = join(dir, 'id');
        const key = Buffer.from(method.value.privateKey);
        // OpenSSH refuses a key file without a final newline ("invalid format").
        await writeFile(keyPath, key.at(-1) === 0x0a ? key : Buffer.concat([key, Buffer.from('\n')]), { mode: 0o600 });
        options.push(`-i ${keyPath}`);
        secrets.push(key.toString().trim());
      }
      env.GIT_SSH_COMMAND = `ssh ${options.join(' ')}`;
      env.GIT_SSH_VARIANT = 'ssh';
    }

    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([key, value], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = key;
      env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    const kept = secrets.filter((s) => s.length >= 4);
    const release = hold(kept);
    return {
      env,
      secrets: kept,
      dispose: async () => {
        release();
        await dispose();
      },
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Replaces every secret in `text` with a placeholder: the last line of defence for messages and logs. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[REDACTED]');
  return out;
}
