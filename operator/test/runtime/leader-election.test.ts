import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@gco/common/logger';
import { type ControlPlane, sharedControlPlane } from '@gco/testenv';
import { parseConfig } from '../../src/config.ts';
import { clusterAuthOf } from '../../src/runtime/cluster-auth.ts';
import { isConflict, KubeClient } from '../../src/runtime/kube-client.ts';
import { LeaderElector, type LeaseSpec, type LostReason, validateTimings } from '../../src/runtime/leader-election.ts';
import { kubeMicroTime } from '../../src/runtime/time.ts';

const ns = 'leader-election';

describe('leader election (Lease, client-go semantics) against the real API server', function () {
  this.timeout(60_000);
  let plane: ControlPlane;
  let admin: KubeClient;
  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    await plane.ensureNamespace(ns);
    admin = new KubeClient(clusterAuthOf(plane.admin()));
  });

  const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`;
  const readLease = (name: string) => admin.get<{ spec: LeaseSpec }>(leasePath(name)).then((l) => l.spec);
  /** Writes the Lease as another replica would (read, then a compare-and-swap; again on a conflict). */
  const writeLease = async (name: string, spec: (old: LeaseSpec) => LeaseSpec) => {
    for (;;) {
      const lease = await admin
        .get<{ metadata: object; spec: LeaseSpec }>(leasePath(name))
        .catch(() => ({ metadata: { name, namespace: ns }, spec: undefined }));
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease, spec: spec(lease.spec ?? {}) };
      try {
        if (lease.spec) await admin.request('PUT', leasePath(name), { body });
        else await admin.request('POST', leasePath(name).replace(/\/[^/]+$/, ''), { body });
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
  };
  const elector = (name: string, identity: string, timings: Partial<Record<string, number>> = {}) =>
    new LeaderElector(admin, {
      namespace: ns,
      name,
      identity,
      logger: silentLogger,
      leaseDurationMs: 2000,
      renewDeadlineMs: 1500,
      retryPeriodMs: 200,
      ...timings,
    });

  it('rejects the timings client-go rejects (flags included), with its defaults', () => {
    const ok = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };
    validateTimings(ok);
    assert.throws(() => validateTimings({ ...ok, renewDeadlineMs: 15_000 }), /greater than renew deadline/);
    assert.throws(() => validateTimings({ ...ok, retryPeriodMs: 9000 }), /retry period \* 1.2/);
    assert.throws(() => validateTimings({ ...ok, leaseDurationMs: 15_500 }), /whole seconds/);
    assert.deepEqual(parseConfig([], {}).leaderElection, ok);
    assert.deepEqual(
      parseConfig(
        ['--leader-elect-lease-duration=4', '--leader-elect-renew-deadline=3', '--leader-elect-retry-period=0.5'],
        {},
      ).leaderElection,
      { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    );
    assert.throws(() => parseConfig(['--leader-elect-renew-deadline=20'], {}), /--leader-elect-\*: lease duration/);
    assert.throws(() => parseConfig(['--leader-elect-retry-period=0'], {}), /--leader-elect-retry-period: seconds/);
  });

  it('judges expiry by when the record last changed, not by its renewTime', async () => {
    const name = 'observed-time';
    // A holder whose clock is an hour behind ours: every renewTime it writes lies far in the past.
    const behind = () => kubeMicroTime(new Date(Date.now() - 3600_000));
    const renew = () =>
      writeLease(name, () => ({ holderIdentity: 'slow-clock', leaseDurationSeconds: 2, renewTime: behind() }));
    await renew();
    let renewing = true;
    /** Taken before the write: the last change is no earlier than this. */
    let lastChange = 0;
    const holder = (async () => {
      while (renewing) {
        lastChange = performance.now();
        await renew();
        await sleep(300);
      }
    })();
    const candidate = elector(name, 'candidate');
    let leading = false;
    const acquired = candidate
      .acquire(() => {})
      .then((ok) => {
        leading = ok;
        return performance.now();
      });
    try {
      // Three lease durations of a record that keeps changing: a renewTime-based check would have taken it
      // at the first attempt.
      await sleep(6000);
      assert.equal(leading, false, 'the candidate took a lease whose record kept changing');
      assert.equal((await readLease(name)).holderIdentity, 'slow-clock');
      assert.equal(candidate.observedHolder, 'slow-clock');
    } finally {
      renewing = false;
      await holder;
    }
    // The record stops changing: taken once it has stood still for leaseDurationSeconds, not before.
    const tookAt = await acquired;
    assert.equal(leading, true);
    assert.ok(tookAt - lastChange >= 2000, `taken ${Math.round(tookAt - lastChange)} ms after the last change`);
    const spec = await readLease(name);
    assert.equal(spec.holderIdentity, 'candidate');
    assert.equal(spec.leaseTransitions, 1, 'a new holder counts a transition');
    assert.equal(spec.leaseDurationSeconds, 2);
    assert.equal(spec.acquireTime, spec.renewTime, 'acquireTime is when it was taken');

    // Renewals move renewTime only: acquireTime and leaseTransitions stay.
    const acquireTime = spec.acquireTime;
    const renewTime = spec.renewTime;
    for (let i = 0; i < 100 && (await readLease(name)).renewTime === renewTime; i++) await sleep(100);
    const renewed = await readLease(name);
    assert.notEqual(renewed.renewTime, renewTime, 'the leader renews');
    assert.equal(renewed.acquireTime, acquireTime);
    assert.equal(renewed.leaseTransitions, 1);
    await candidate.release();
  });

  it('release clears the holder, and a candidate takes over at once', async () => {
    const name = 'release';
    // A lease duration no test waits out: a takeover within the test's timeout comes from the release.
    const long = { leaseDurationMs: 60_000, renewDeadlineMs: 10_000 };
    const a = elector(name, 'a', long);
    assert.equal(await a.acquire(() => assert.fail('a lost the lease')), true);
    const b = elector(name, 'b', long);
    let bLeads = false;
    const bAcquired = b
      .acquire(() => {})
      .then((ok) => {
        bLeads = ok;
      });
    await sleep(1000);
    assert.equal(bLeads, false, 'b waits while a holds the lease');
    await a.release();
    assert.equal(a.isLeader, false);
    await bAcquired;
    assert.equal(bLeads, true);
    const spec = await readLease(name);
    assert.equal(spec.holderIdentity, 'b');
    assert.equal(spec.leaseTransitions, 1);

    // What a release writes (no candidate racing to read it first).
    await b.release();
    const released = await readLease(name);
    assert.equal(released.holderIdentity ?? '', '');
    assert.equal(released.leaseDurationSeconds, 1);
    assert.equal(released.leaseTransitions, 1, 'a release is no transition');
  });

  it('a leader that sees another holder steps down at once', async () => {
    const name = 'another-holder';
    // Its renew deadline is long: only seeing the other holder can make it step down this soon.
    const a = elector(name, 'a', { leaseDurationMs: 30_000, renewDeadlineMs: 20_000 });
    const lost = new Promise<LostReason>((resolve) => {
      void a.acquire(resolve);
    });
    for (let i = 0; i < 100 && !a.isLeader; i++) await sleep(50);
    assert.equal(a.isLeader, true);
    await writeLease(name, (old) => ({
      ...old,
      holderIdentity: 'intruder',
      leaseTransitions: (old.leaseTransitions ?? 0) + 1,
    }));
    assert.equal(await lost, 'AnotherHolder');
    assert.equal(a.isLeader, false);
    await sleep(500);
    assert.equal((await readLease(name)).holderIdentity, 'intruder', 'a stopped writing the lease');
    await a.release();
    assert.equal((await readLease(name)).holderIdentity, 'intruder', 'release leaves another holder alone');
  });

  it('a leader that cannot renew steps down by its renew deadline', async () => {
    const name = 'renew-deadline';
    const sa = 'elector';
    // A ServiceAccount that may write Leases; then its RoleBinding goes, and every renewal is refused.
    const { kubeConfig } = await plane.serviceAccountKubeConfig(ns, sa);
    await plane.kubectl(['create', 'role', 'leases', '-n', ns, '--verb=get,create,update', '--resource=leases']);
    await plane.kubectl(['create', 'rolebinding', 'leases', '-n', ns, '--role=leases', `--serviceaccount=${ns}:${sa}`]);
    const a = new LeaderElector(new KubeClient(clusterAuthOf(kubeConfig)), {
      namespace: ns,
      name,
      identity: 'a',
      logger: silentLogger,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
    });
    let lostAt = 0;
    const lost = new Promise<LostReason>((resolve) => {
      void a.acquire((reason) => {
        lostAt = Date.now();
        resolve(reason);
      });
    });
    for (let i = 0; i < 200 && !a.isLeader; i++) await sleep(50);
    assert.equal(a.isLeader, true);
    const revoked = await plane.kubectl(['delete', 'rolebinding', 'leases', '-n', ns]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(await lost, 'RenewDeadlineExceeded');
    assert.equal(a.isLeader, false);
    // Stepped down before a candidate could take the lease: within the lease duration of the last renewal
    // that landed (its renewTime is this process's clock, as is lostAt).
    const lastRenewal = Date.parse((await readLease(name)).renewTime ?? '');
    assert.ok(lostAt < lastRenewal + 3000, `stepped down ${lostAt - lastRenewal} ms after the last renewal`);
    await a.release();
    assert.equal((await readLease(name)).holderIdentity, 'a', 'a lost lease is not released (nor written)');
    await plane.kubectl(['delete', 'role', 'leases', '-n', ns]);
  });
});
