import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@gco/common/logger';
import { type ControlPlane, sharedControlPlane, waitFor } from '@gco/testenv';
import { clusterAuthOf } from '../../src/runtime/cluster-auth.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { LeaderElector } from '../../src/runtime/leader-election.ts';
import type { KubeObject, ResourceType } from '../../src/runtime/resources.ts';

const configMaps: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};

describe('controller runtime: against the real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane;
  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
  });

  it('informer: loses no event across an API server restart (deletes in the gap included)', async () => {
    const ns = 'informer-restart';
    await plane.ensureNamespace(ns);
    const admin = new KubeClient(clusterAuthOf(plane.admin()));
    const create = (name: string) =>
      admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name }, data: { v: '1' } } });
    await create('before-1');
    await create('before-2');
    const informer = new Informer<KubeObject>(new KubeClient(clusterAuthOf(plane.admin())), configMaps, {
      namespace: ns,
      logger: silentLogger,
    });
    const seen: string[] = [];
    informer.onChange((type, obj) => seen.push(`${type}:${obj.metadata.name}`));
    await informer.start();
    assert.deepEqual(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['before-1', 'before-2'],
    );

    await create('during-watch');
    await waitFor(async () => seen.includes('added:during-watch'), {
      timeoutMs: 10_000,
      describe: () => seen.join(' '),
    });

    // Restart the API server and change things while it comes back up.
    await plane.restartApiServer({ downMs: 500 });
    await create('after-restart');
    await admin.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/before-1`);
    await admin.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/before-2`, {
      body: { data: { v: '2' } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(
      async () =>
        seen.includes('added:after-restart') &&
        seen.includes('deleted:before-1') &&
        (informer.get(`${ns}/before-2`)?.data as { v?: string } | undefined)?.v === '2',
      { timeoutMs: 60_000, describe: () => `events seen: ${seen.join(' ')}` },
    );
    assert.deepEqual(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['after-restart', 'before-2', 'during-watch'],
    );
    informer.stop();
  });

  it('leader election: one leader at a time; a released lease is taken over at once', async function () {
    this.timeout(30_000);
    const ns = 'leases';
    await plane.ensureNamespace(ns);
    // A lease duration past this test's timeout: a takeover within it comes from the release.
    const opts = {
      namespace: ns,
      name: 'gco-test',
      logger: silentLogger,
      leaseDurationMs: 60_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 200,
    };
    const a = new LeaderElector(new KubeClient(clusterAuthOf(plane.admin())), { ...opts, identity: 'a' });
    const b = new LeaderElector(new KubeClient(clusterAuthOf(plane.admin())), { ...opts, identity: 'b' });
    await a.acquire(() => {});
    let bLeads = false;
    const bAcquired = b
      .acquire(() => {})
      .then((ok) => {
        bLeads = ok;
      });
    // A fixed window, as proving that b does not take the lease needs one: five of b's attempts.
    await sleep(1000);
    assert.equal(a.isLeader, true);
    assert.equal(bLeads, false, 'b waits while a renews');
    await a.release();
    await bAcquired;
    assert.equal(bLeads, true, 'b took over without waiting for the lease to expire');
    const lease = await new KubeClient(clusterAuthOf(plane.admin())).get<any>(
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/gco-test`,
    );
    assert.equal(lease.spec.holderIdentity, 'b');
    assert.equal(lease.spec.leaseTransitions, 1);
    await b.release();
  });
});
