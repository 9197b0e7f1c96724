/**
 * A private certificate authority and a server certificate it signed for 127.0.0.1, made with the
 * openssl CLI (Node can make keys but not certificates), for an HTTPS git server whose certificate no
 * public CA vouches for: the case of `ca.crt` in an auth Secret.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './processes.ts';
import { tempDir } from './temp.ts';

export interface TestCertificates {
  /** PEM of the CA: what a client must trust. */
  caCert: string;
  /** PEM key and certificate of the server, for 127.0.0.1 and localhost. */
  serverKey: string;
  serverCert: string;
}

export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await tempDir('gco-ca-');
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runOk(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt')].concat([
      '-subj',
      '/CN=gco test CA',
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]),
  );
  await runOk('openssl', [
    'req',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await runOk('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.crt'),
  ]);
  const [caCert, serverKey, serverCert] = await Promise.all(
    ['ca.crt', 'server.key', 'server.crt'].map((name) => readFile(file(name), 'utf8')),
  );
  return { caCert: caCert as string, serverKey: serverKey as string, serverCert: serverCert as string };
}

/**
 * A client certificate for `user` in `groups` (CN and O, as the API server reads them), signed by the
 * CA in `caDir` (ca.crt, ca.key), which the control plane trusts with --client-ca-file.
 */
export async function createClientCertificate(
  caDir: string,
  user: string,
  groups: string[] = [],
): Promise<{ cert: string; key: string }> {
  const dir = await tempDir('gco-client-cert-');
  const file = (name: string) => join(dir, name);
  const subject = `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`;
  await runOk('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    file('client.key'),
    '-out',
    file('client.csr'),
    '-subj',
    subject,
  ]);
  await writeFile(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await runOk('openssl', [
    'x509',
    '-req',
    '-in',
    file('client.csr'),
    '-CA',
    join(caDir, 'ca.crt'),
    '-CAkey',
    join(caDir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('client.ext'),
    '-out',
    file('client.crt'),
  ]);
  const [cert, key] = await Promise.all([readFile(file('client.crt'), 'utf8'), readFile(file('client.key'), 'utf8')]);
  return { cert: cert as string, key: key as string };
}

/** A CA in a directory (ca.crt, ca.key), for client certificates. */
export async function createCertificateAuthority(dir: string): Promise<void> {
  await runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-subj',
    '/CN=gco test client CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
}
