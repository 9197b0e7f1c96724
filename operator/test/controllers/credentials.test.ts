import assert from 'node:assert/strict';
import type { Credentials } from '@gco/sidecar-api';
import { type AuthSecret, credentialsFromSecret } from '../../src/controllers/execution/credentials.ts';
import { ExecutionFailure } from '../../src/controllers/execution/failure.ts';

const secret = (data: Record<string, string>): AuthSecret => ({
  metadata: { name: 'git-auth' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});
const https = 'https://git.example.com/org/repo.git';
const ssh = 'git@git.example.com:org/repo.git';

/** The credentials as plain strings: the method, its fields, and the CA ('' when none). */
function plain(credentials: Credentials): Record<string, string | undefined> {
  const fields = Object.entries(credentials.method.value ?? {})
    .filter(([key]) => !key.startsWith('$'))
    .map(([key, value]) => [key, value instanceof Uint8Array ? Buffer.from(value).toString() : String(value)]);
  return {
    method: credentials.method.case,
    ...Object.fromEntries(fields),
    ca: Buffer.from(credentials.caCertificate).toString(),
  };
}

const fromSecret = (data: Record<string, string>, url = https) => plain(credentialsFromSecret(secret(data), url));

/** A permanent InvalidSecret failure naming the Secret and the keys it lacks. */
const invalidSecret = (keys: RegExp) => (error: unknown) =>
  error instanceof ExecutionFailure &&
  error.permanent &&
  error.reason === 'InvalidSecret' &&
  error.message.includes('Secret git-auth') &&
  keys.test(error.message);

describe('auth Secret keys to sidecar credentials', () => {
  it('HTTPS: a token (trimmed, with an optional username), else username and password; ca.crt with either', () => {
    assert.deepEqual(fromSecret({ token: 'ghp_abc\n', 'ca.crt': 'PEM' }), {
      method: 'token',
      token: 'ghp_abc',
      username: '',
      ca: 'PEM',
    });
    assert.deepEqual(
      fromSecret({ token: 't', username: 'x-access-token', password: 'p' }),
      { method: 'token', token: 't', username: 'x-access-token', ca: '' },
      'a token wins over a password',
    );
    assert.deepEqual(fromSecret({ username: 'ci', password: 'pw', 'ca.crt': 'PEM' }), {
      method: 'basic',
      username: 'ci',
      password: 'pw',
      ca: 'PEM',
    });
  });

  it('HTTPS: refuses a Secret with neither a token nor a username and password', () => {
    const incomplete: Array<Record<string, string>> = [
      {},
      { username: 'ci' },
      { password: 'pw' },
      { 'ssh-privatekey': 'KEY', known_hosts: 'h' },
    ];
    for (const data of incomplete) {
      assert.throws(() => fromSecret(data), invalidSecret(/'token'.*'username' and 'password'/), JSON.stringify(data));
    }
  });

  it('SSH (scp-like and ssh:// URLs): a private key and known_hosts, both required', () => {
    for (const url of [ssh, 'ssh://git@git.example.com:2222/org/repo.git']) {
      assert.deepEqual(
        fromSecret({ 'ssh-privatekey': 'KEY', known_hosts: 'HOSTS', token: 't' }, url),
        { method: 'ssh', privateKey: 'KEY', knownHosts: 'HOSTS', ca: '' },
        `${url}: the URL decides the method, not the keys present`,
      );
    }
    assert.throws(() => fromSecret({ known_hosts: 'h', token: 't' }, ssh), invalidSecret(/'ssh-privatekey'/));
    assert.throws(
      () => fromSecret({ 'ssh-privatekey': 'KEY' }, ssh),
      invalidSecret(/'known_hosts': SSH host keys are always verified/),
    );
  });
});
