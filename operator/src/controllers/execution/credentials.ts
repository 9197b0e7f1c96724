/**
 * Turns the auth Secret into credentials for the git sidecar (keys as in the API contract). The values
 * go from the Secret straight into the request to the sidecar; they are never logged or put in status.
 */
import { create } from '@bufbuild/protobuf';
import { isSshUrl } from '@gco/common/validation';
import { type Credentials, CredentialsSchema } from '@gco/sidecar-api';
import { isNotFound, type KubeClient } from '../../runtime/kube-client.ts';
import { permanent, transient } from './failure.ts';

export interface AuthSecret {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export async function readAuthSecret(
  client: KubeClient,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<AuthSecret> {
  try {
    return await client.get<AuthSecret>(`/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`, {
      signal,
    });
  } catch (error) {
    if (isNotFound(error)) {
      throw transient('SecretNotFound', `spec.auth.secretName: Secret ${namespace}/${name} does not exist`);
    }
    throw transient('APIError', `reading Secret ${namespace}/${name}: ${(error as Error).message}`);
  }
}

export function credentialsFromSecret(secret: AuthSecret, url: string): Credentials {
  const value = (key: string) => {
    const raw = secret.data?.[key];
    return raw === undefined ? undefined : Buffer.from(raw, 'base64');
  };
  const name = secret.metadata.name;
  // The sidecar's failure messages name the Secret: which credentials a host rejected.
  const origin = `Secret ${secret.metadata.namespace ? `${secret.metadata.namespace}/` : ''}${name}`;
  const ca = value('ca.crt');
  if (isSshUrl(url)) {
    const key = value('ssh-privatekey');
    const knownHosts = value('known_hosts');
    if (!key) throw permanent('InvalidSecret', `Secret ${name} has no 'ssh-privatekey' for the SSH repository URL`);
    if (!knownHosts) {
      throw permanent(
        'InvalidSecret',
        `Secret ${name} has no 'known_hosts': SSH host keys are always verified; add the host's key line`,
      );
    }
    return create(CredentialsSchema, { method: { case: 'ssh', value: { privateKey: key, knownHosts } }, origin });
  }
  const token = value('token');
  const username = value('username')?.toString();
  const password = value('password');
  if (token) {
    return create(CredentialsSchema, {
      method: { case: 'token', value: { token: token.toString().trim(), username: username ?? '' } },
      caCertificate: ca,
      origin,
    });
  }
  if (username !== undefined && password) {
    return create(CredentialsSchema, {
      method: { case: 'basic', value: { username, password: password.toString() } },
      caCertificate: ca,
      origin,
    });
  }
  throw permanent(
    'InvalidSecret',
    `Secret ${name} has neither 'token' nor 'username' and 'password' for the HTTPS repository URL`,
  );
}
