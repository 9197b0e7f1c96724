/**
 * The fingerprint of the host key an SSH server offers, for the message of a refused host key. ssh prints
 * it for a changed key, but not for a host known_hosts does not list; then `ssh-keyscan` asks the server
 * for its key of the type ssh named. It sends no credentials (the key exchange only), and runs only on
 * that failure, once per execution: the failure stalls the resource.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';

export interface OfferedKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`… */
  type: string;
  /** As ssh-keygen -l prints it: `SHA256:` and the unpadded base64 SHA-256 of the key blob. */
  fingerprint: string;
}

/** ssh's name of a key type in its messages (`ED25519`, `ECDSA`, `RSA`) as ssh-keyscan's -t takes it. */
const keyscanTypes: Record<string, string> = { ED25519: 'ed25519', ECDSA: 'ecdsa', RSA: 'rsa' };

export function fingerprintOf(base64Key: string): string {
  const digest = createHash('sha256').update(Buffer.from(base64Key, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** The key of type `sshType` (as ssh names it) that `host` offers, or why it could not be read. */
export function offeredHostKey(
  host: string,
  port: string,
  sshType: string,
  timeoutMs = 10_000,
): Promise<OfferedKey | { error: string }> {
  const type = keyscanTypes[sshType.toUpperCase()];
  const args = ['-T', String(Math.ceil(timeoutMs / 2000)), ...(type ? ['-t', type] : []), '-p', port || '22', host];
  return new Promise((resolve) => {
    execFile('ssh-keyscan', args, { timeout: timeoutMs, env: { PATH: process.env.PATH } }, (error, stdout) => {
      for (const line of stdout.split('\n')) {
        const [, keyType, key] = line.trim().split(/\s+/);
        if (!line.startsWith('#') && keyType && key) {
          resolve({ type: keyType, fingerprint: fingerprintOf(key) });
          return;
        }
      }
      resolve({
        error: error ? error.message.split('\n')[0] || 'ssh-keyscan failed' : 'the server offered no such key',
      });
    });
  });
}
