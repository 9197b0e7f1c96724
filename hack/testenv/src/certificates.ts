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
