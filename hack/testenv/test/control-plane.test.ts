import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { type ControlPlane, repoRoot, sharedControlPlane, statusCode, waitFor } from '../src/index.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control plane', () => {
  let plane: ControlPlane;
  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
  });

  it('serves the admin client and kubectl with RBAC on', async () => {
    const core = plane.admin().makeApiClient(k8s.CoreV1Api);
    const ns = await core.readNamespace({ name: 'default' });
    assert.equal(ns.metadata?.name, 'default');
    const version = await plane.kubectl(['version', '-o', 'json']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(JSON.parse(version.stdout).serverVersion.gitVersion, /^v1\.\d+\.\d+/);
    const rbac = await plane.kubectl(['api-versions']);
    assert.match(rbac.stdout, /rbac\.authorization\.k8s\.io\/v1/);
  });

  it('gives a ServiceAccount client exactly the RBAC granted to it', async () => {
    const ns = 'rbac-check';
    const { kubeConfig, path } = await plane.serviceAccountKubeConfig(ns, 'reader');
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    // Nothing is granted yet: forbidden.
    await assert.rejects(core.listNamespacedConfigMap({ namespace: ns }), (e) => statusCode(e) === 403);

    const rbacApi = plane.admin().makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbacApi.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbacApi.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    await waitFor(
      async () => {
        await core.listNamespacedConfigMap({ namespace: ns });
        return true;
      },
      { timeoutMs: 10_000, describe: () => 'the RoleBinding never took effect' },
    );
    // Granted in its namespace only, and read-only.
    await assert.rejects(core.listNamespacedConfigMap({ namespace: 'default' }), (e) => statusCode(e) === 403);
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'x' } } }),
      (e) => statusCode(e) === 403,
    );
    // kubectl with the same identity agrees.
    const can = await plane.kubectl(['auth', 'can-i', 'list', 'configmaps', '-n', ns], { kubeconfig: path });
    assert.equal(can.stdout.trim(), 'yes');
    const cannot = await plane.kubectl(['auth', 'can-i', 'list', 'secrets', '-n', ns], { kubeconfig: path });
    assert.equal(cannot.stdout.trim(), 'no');
  });

  it('leaves no process or directory behind when the test run is interrupted', async function () {
    this.timeout(120_000);
    const child = spawn(
      join(repoRoot, 'node_modules/.bin/node'),
      [join(import.meta.dirname, 'fixtures/start-and-wait.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    await waitFor(async () => out.includes('\n'), {
      timeoutMs: 60_000,
      describe: () => `the control plane did not start: ${err}`,
    });
    const { pids, root } = JSON.parse(out) as { pids: number[]; root: string };
    assert.equal(pids.length, 2, 'etcd and kube-apiserver');
    assert.ok(pids.every(alive));
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    await exited;
    await waitFor(async () => !pids.some(alive), {
      timeoutMs: 10_000,
      describe: () => `still running after SIGINT: ${pids.filter(alive).join(', ')}`,
    });
    assert.ok(!existsSync(root), `${root} should have been removed`);
  });
});
