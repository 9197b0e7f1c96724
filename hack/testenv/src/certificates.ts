/**
 * Private certificate authorities and certificates they sign, made with the openssl CLI (Node can make
 * keys but not certificates): a server certificate for an HTTPS git server no public CA vouches for
 * (the case of `ca.crt` in an auth Secret), and client certificates the test API server accepts.
 */
import { randomBytes } from 'node:crypto';
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

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA in a directory (ca.crt, ca.key). */
export async function createCertificateAuthority(dir: string, name = 'gco test CA'): Promise<void> {
  await runOk('openssl', [
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
}

/** A new key and a certificate for `subject` with `extensions`, signed by the CA in `caDir`. */
async function signed(caDir: string, subject: string, extensions: string): Promise<{ cert: string; key: string }> {
  const dir = await tempDir('gco-cert-');
  const file = (name: string) => join(dir, name);
  await runOk('openssl', ['req', ...newKey, '-keyout', file('key.pem'), '-out', file('req.csr'), '-subj', subject]);
  await writeFile(file('ext'), extensions);
  await runOk('openssl', [
    'x509',
    '-req',
    '-in',
    file('req.csr'),
    '-CA',
    join(caDir, 'ca.crt'),
    '-CAkey',
    join(caDir, 'ca.key'),
    // A random serial rather than -CAcreateserial: certificates signed at once by one CA would race on
    // its serial file.
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    file('ext'),
    '-out',
    file('cert.pem'),
  ]);
  const [cert, key] = await Promise.all([readFile(file('cert.pem'), 'utf8'), readFile(file('key.pem'), 'utf8')]);
  return { cert, key };
}

/** A fresh CA and a server certificate it signed for 127.0.0.1 and localhost. */
export async function createTestCertificates(): Promise<TestCertificates> {
  const caDir = await tempDir('gco-ca-');
  await createCertificateAuthority(caDir);
  const server = await signed(
    caDir,
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  return { caCert: await readFile(join(caDir, 'ca.crt'), 'utf8'), serverKey: server.key, serverCert: server.cert };
}

/** A server certificate for the given IP addresses and DNS names, signed by the CA in `caDir`. */
export function createServerCertificate(
  caDir: string,
  names: { ips: string[]; dns: string[] },
): Promise<{ cert: string; key: string }> {
  const alt = [...names.ips.map((ip) => `IP:${ip}`), ...names.dns.map((d) => `DNS:${d}`)].join(',');
  return signed(
    caDir,
    `/CN=${names.ips[0] ?? names.dns[0]}`,
    `subjectAltName=${alt}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`,
  );
}

/**
 * A client certificate for `user` in `groups` (CN and O, as the API server reads them), signed by the
 * CA in `caDir`, which the control plane trusts with --client-ca-file.
 */
export function createClientCertificate(
  caDir: string,
  user: string,
  groups: string[] = [],
): Promise<{ cert: string; key: string }> {
  return signed(caDir, `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`, 'extendedKeyUsage=clientAuth\n');
}
