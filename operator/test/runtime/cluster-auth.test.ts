// How the operator finds and authenticates to the API server, against the real one: a kubeconfig file
// (token, token file, relative CA file), the in-cluster ServiceAccount files, and the order of sources.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ControlPlane, sharedControlPlane, tempDir } from '@gco/testenv';
import { stringify } from 'yaml';
import { loadClusterAuth } from '../../src/runtime/cluster-auth.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';

describe('controller runtime: cluster authentication', function () {
  this.timeout(60_000);
  let plane: ControlPlane;
  let token: string;
  let caPem: string;

  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    const sa = plane.admin();
    token = sa.getCurrentUser()?.token as string;
    caPem = Buffer.from(sa.getCurrentCluster()?.caData as string, 'base64').toString();
  });

  /** Who the API server says we are. */
  async function whoami(client: KubeClient): Promise<string> {
    const review = await client.request<any>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    return review.status.userInfo.username;
  }

  const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: plane.server, ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    });

  it('reads a kubeconfig file: inline CA and token, or a CA file and a token file relative to it', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'inline.yaml'),
      kubeconfig({ 'certificate-authority-data': Buffer.from(caPem).toString('base64') }, { token }),
    );
    assert.equal(
      await whoami(new KubeClient(await loadClusterAuth({ kubeconfig: join(dir, 'inline.yaml') }))),
      'admin',
    );
    await mkdir(join(dir, 'certs'));
    await writeFile(join(dir, 'certs/ca.crt'), caPem);
    await writeFile(join(dir, 'token'), `${token}\n`);
    await writeFile(
      join(dir, 'files.yaml'),
      kubeconfig({ 'certificate-authority': 'certs/ca.crt' }, { tokenFile: 'token' }),
    );
    assert.equal(await whoami(new KubeClient(await loadClusterAuth({ kubeconfig: join(dir, 'files.yaml') }))), 'admin');
    // Without the CA, TLS refuses the server: nothing is trusted by accident.
    await writeFile(join(dir, 'no-ca.yaml'), kubeconfig({}, { token }));
    await assert.rejects(
      whoami(new KubeClient(await loadClusterAuth({ kubeconfig: join(dir, 'no-ca.yaml') }))),
      /certificate/,
    );
    await writeFile(
      join(dir, 'broken.yaml'),
      kubeconfig({}, { token }).replace('current-context: ctx', 'current-context: other'),
    );
    await assert.rejects(
      loadClusterAuth({ kubeconfig: join(dir, 'broken.yaml') }),
      /broken\.yaml: no context named "other"/,
    );
  });

  it("reads a client certificate, as kind's kubeconfig has", async () => {
    const { cert, key } = await plane.clientCertificate('cert-user', ['developers']);
    const dir = await tempDir();
    const b64 = (pem: string) => Buffer.from(pem).toString('base64');
    await writeFile(
      join(dir, 'cert.yaml'),
      kubeconfig(
        { 'certificate-authority-data': b64(caPem) },
        { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) },
      ),
    );
    assert.equal(
      await whoami(new KubeClient(await loadClusterAuth({ kubeconfig: join(dir, 'cert.yaml') }))),
      'cert-user',
    );
  });

  it('hands kubeconfigs with an exec plugin to client-node (cloud CLIs, OIDC helpers)', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token },
    });
    const dir = await tempDir();
    await writeFile(
      join(dir, 'exec.yaml'),
      kubeconfig(
        { 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'sh',
            args: ['-c', `printf '%s' '${credential}'`],
            interactiveMode: 'Never',
          },
        },
      ),
    );
    assert.equal(await whoami(new KubeClient(await loadClusterAuth({ kubeconfig: join(dir, 'exec.yaml') }))), 'admin');
  });

  it('runs as the pod ServiceAccount in a cluster, and prefers $KUBECONFIG when it is set', async () => {
    const sa = await tempDir();
    await writeFile(join(sa, 'token'), token);
    await writeFile(join(sa, 'ca.crt'), caPem);
    const server = new URL(plane.server);
    const env = { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port };
    const inCluster = await loadClusterAuth({ env, serviceAccountDir: sa });
    assert.equal(inCluster.server, `https://${server.hostname}:${server.port}`);
    assert.equal(await whoami(new KubeClient(inCluster)), 'admin');
    const dir = await tempDir();
    await writeFile(join(dir, 'kc.yaml'), kubeconfig({ 'insecure-skip-tls-verify': true }, { token }));
    const fromEnv = await loadClusterAuth({ env: { ...env, KUBECONFIG: join(dir, 'kc.yaml') }, serviceAccountDir: sa });
    assert.equal(fromEnv.server, plane.server);
    assert.equal(await whoami(new KubeClient(fromEnv)), 'admin');
  });
});
