// HTTPS with a private CA: the CA given as the credentials' ca_certificate (ca.crt in an auth Secret) is
// trusted for that host only; without it the server's certificate is rejected with a reason of its own.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { CredentialsSchema, createSidecarClient, Failure_Reason as Reason } from '@gco/sidecar-api';
import {
  createBareRepository,
  createTestCertificates,
  fileAt,
  GitHttpServer,
  type SidecarProcess,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { commitRequest, expectFailure } from '@gco/testenv/sidecar';

const token = 'ghp_https_test_token_0123456789';

describe('git sidecar: HTTPS with a private CA', function () {
  this.timeout(120_000);
  let server: GitHttpServer;
  let sidecar: SidecarProcess;
  let caCert: string;
  let root: string;

  before(async () => {
    const certs = await createTestCertificates();
    caCert = certs.caCert;
    root = await tempDir();
    server = await new GitHttpServer({
      root: join(root, 'repos'),
      auth: { tokens: [token] },
      tls: { key: certs.serverKey, cert: certs.serverCert },
    }).start();
    sidecar = await startSidecar();
  });
  after(async () => {
    await sidecar?.stop();
    await server?.stop();
  });

  const credentials = (ca?: string) =>
    create(CredentialsSchema, {
      method: { case: 'token', value: { token } },
      caCertificate: ca === undefined ? new Uint8Array() : Buffer.from(ca),
    });

  it('commits when given the CA, and says why when not', async () => {
    const gitDir = join(root, 'repos/private.git');
    await createBareRepository(gitDir, { files: 3 });
    const url = server.url('private.git');
    assert.match(url, /^https:/);
    const client = createSidecarClient({ socketPath: sidecar.socketPath });
    const error = await expectFailure(
      client.commit(commitRequest({ url, credentials: credentials(), ops: [{ path: 'a.txt', content: 'a\n' }] })),
      Reason.CERTIFICATE_REJECTED,
      /certificate/i,
    );
    assert.doesNotMatch(error.message, new RegExp(token));
    assert.equal(await fileAt(gitDir, 'main', 'a.txt'), undefined);

    const res = await client.commit(
      commitRequest({ url, credentials: credentials(caCert), ops: [{ path: 'b.txt', content: 'b\n' }] }),
    );
    assert.equal(res.changed, true);
    assert.equal(await fileAt(gitDir, 'main', 'b.txt'), 'b\n');
    // Trust is per job: the next job without the CA is refused again (nothing was written to the clone).
    await expectFailure(
      client.commit(commitRequest({ url, credentials: credentials(), ops: [{ path: 'c.txt', content: 'c\n' }] })),
      Reason.CERTIFICATE_REJECTED,
    );
  });
});
