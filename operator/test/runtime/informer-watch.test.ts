/**
 * The informer as it is lived in, against the real API server: idle watches, dead connections (a TCP
 * proxy that freezes or cuts them), backoff, paginated lists, 410 Gone, metadata-only caches.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@gco/common/logger';
import { type ControlPlane, sharedControlPlane, waitFor } from '@gco/testenv';
import { type ClusterAuth, clusterAuthOf } from '../../src/runtime/cluster-auth.ts';
import {
  Informer,
  type InformerMetrics,
  type InformerOptions,
  type RestartReason,
} from '../../src/runtime/informer.ts';
import { isConflict, KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject, ResourceType } from '../../src/runtime/resources.ts';
import { TcpProxy } from './tcp-proxy.ts';

const configMaps: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};
const secrets: ResourceType = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

/** What an informer reported, for assertions. */
class Recorded implements InformerMetrics {
  readonly restarts: Array<{ reason: RestartReason; delayMs: number; at: number }> = [];
  readonly lists: number[] = [];
  restarted(reason: RestartReason, delayMs: number): void {
    this.restarts.push({ reason, delayMs, at: Date.now() });
  }
  listed(pages: number): void {
    this.lists.push(pages);
  }
  reasons(): RestartReason[] {
    return this.restarts.map((r) => r.reason);
  }
}

describe('informer: watches and lists as they are lived in (real API server)', function () {
  this.timeout(180_000);
  let plane: ControlPlane;
  let auth: ClusterAuth;
  let admin: KubeClient;
  const running: Array<{ stop(): unknown }> = [];

  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    auth = clusterAuthOf(plane.admin());
    admin = new KubeClient(auth);
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
  });

  async function namespace(name: string): Promise<string> {
    await plane.ensureNamespace(name);
    return name;
  }

  async function proxy(): Promise<TcpProxy> {
    const p = await TcpProxy.start(auth.server);
    running.push(p);
    return p;
  }

  /** A started informer of `type` in `ns` that records what it reports and every change it sees. */
  async function informer<T extends KubeObject = KubeObject>(
    type: ResourceType,
    ns: string,
    opts: Partial<InformerOptions<T>> & { through?: TcpProxy } = {},
  ) {
    const recorded = new Recorded();
    const client = opts.through ? new KubeClient({ server: opts.through.url, apply: auth.apply }) : admin;
    const inf = new Informer<T>(client, type, { namespace: ns, logger: silentLogger, metrics: recorded, ...opts });
    const seen: string[] = [];
    inf.onChange((change, obj) => seen.push(`${change}:${obj.metadata.name}`));
    running.push(inf);
    await inf.start();
    return { informer: inf, recorded, seen };
  }

  /** The informer's watch goes through its own connection, after the list's. */
  const watchConnected = (through: TcpProxy) =>
    waitFor(async () => through.connections >= 2, { timeoutMs: 10_000, describe: () => 'no watch connection' });

  const createConfigMap = (ns: string, name: string, data: Record<string, string> = { v: '1' }) =>
    admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name }, data } });

  const seenWithin = (seen: string[], entry: string, timeoutMs: number) =>
    waitFor(async () => seen.includes(entry), { timeoutMs, describe: () => `not seen ${entry}: ${seen.join(' ')}` });

  it('an idle watch outlives every client and socket timeout, and the next event arrives at once', async function () {
    this.timeout(180_000);
    const ns = await namespace('informer-idle');
    const { recorded, seen } = await informer(configMaps, ns);
    // Longer than Node's keep-alive socket timeout (5 s), our requests' timeout (30 s) and the pooled
    // sockets' idle timeout (60 s); shorter than the watchdog (90 s). (A kind nobody changes gets no
    // bookmarks: the API server sends one only with a newer resourceVersion than the watch has seen;
    // seen here with a 75 s watchdog, which then restarted the quiet watch.)
    await sleep(65_000);
    assert.deepEqual(recorded.reasons(), [], 'the idle watch was never restarted');
    await createConfigMap(ns, 'after-idle');
    await seenWithin(seen, 'added:after-idle', 10_000);
    assert.deepEqual(recorded.reasons(), []);
  });

  it('watchdog: a watch gone silent (frozen connection) is restarted and catches up on what it missed', async () => {
    const ns = await namespace('informer-watchdog');
    await createConfigMap(ns, 'ticker');
    const through = await proxy();
    const { informer: inf, recorded, seen } = await informer(configMaps, ns, { through, watchdogMs: 3000 });
    // Changes every 500 ms keep the healthy watch busy, so only the freeze can silence it.
    let ticks = 0;
    let ticking = true;
    const ticker = (async () => {
      while (ticking && ticks < 200) {
        await admin.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/ticker`, {
          body: { data: { v: String(++ticks) } },
          contentType: 'application/merge-patch+json',
        });
        await sleep(500);
      }
    })();
    try {
      await waitFor(async () => seen.filter((s) => s === 'updated:ticker').length >= 8, {
        timeoutMs: 20_000,
        describe: () => seen.join(' '),
      });
      assert.deepEqual(recorded.reasons(), [], 'a busy watch is left alone');
      // The watchdog counts from the last thing the watch delivered, which may be a little before the freeze.
      const eventTimes: number[] = [Date.now()];
      inf.onChange(() => {
        eventTimes.push(Date.now());
      });
      const frozenAt = Date.now();
      assert.ok(through.freeze() >= 1, 'the watch connection was frozen');
      await createConfigMap(ns, 'while-frozen');
      await seenWithin(seen, 'added:while-frozen', 30_000);
      const restart = recorded.restarts.find((r) => r.reason === 'watchdog');
      assert.ok(restart, `restarted by the watchdog: ${JSON.stringify(recorded.restarts)}`);
      // A timer never fires early, but it counts from the event loop's cached clock, which lags Date.now()
      // by as long as the loop's current turn has run (tens of ms on a loaded machine): 200 ms of slack.
      const lastEventAt = Math.max(...eventTimes.filter((t) => t <= restart.at));
      const silent = restart.at - lastEventAt;
      assert.ok(silent >= 2800, `restarted ${silent} ms after the last event, watchdogMs 3000`);
      assert.ok(restart.at - frozenAt < 10_000, `restarted ${restart.at - frozenAt} ms after the freeze`);
      assert.equal(restart.delayMs, 0, 'a watch the watchdog ended is resumed at once');
      assert.deepEqual(recorded.lists, [1], 'resumed from its resourceVersion, no relist');
    } finally {
      ticking = false;
      await ticker;
    }
  });

  it('backoff grows while watches fail without delivering, and starts over once one delivers', async function () {
    this.timeout(120_000);
    const ns = await namespace('informer-backoff');
    const through = await proxy();
    const { recorded, seen } = await informer(configMaps, ns, { through });
    await watchConnected(through);
    // Three failures in a row, nothing delivered in between (a quiet namespace: no event, and the first
    // bookmark is a minute away): cut each new watch connection as soon as it is made.
    for (let i = 0; i < 3; i++) {
      const connections = through.connections;
      const restarts = recorded.restarts.length;
      through.cut();
      await waitFor(async () => recorded.restarts.length > restarts && through.connections > connections, {
        timeoutMs: 30_000,
        describe: () => `no reconnection: ${JSON.stringify(recorded.restarts)}`,
      });
    }
    const [first = 0, , third = 0] = recorded.restarts.map((r) => r.delayMs);
    assert.deepEqual(recorded.reasons(), ['error', 'error', 'error']);
    // client-go's backoff: 800 ms doubling, plus up to 100 % jitter.
    assert.ok(first >= 800 && first <= 1600, `first delay ${first}`);
    assert.ok(third >= 3200, `third delay grew: ${JSON.stringify(recorded.restarts)}`);

    await createConfigMap(ns, 'delivered');
    await seenWithin(seen, 'added:delivered', 30_000);
    through.cut();
    await waitFor(async () => recorded.restarts.length === 4, { timeoutMs: 10_000, describe: () => 'no restart' });
    const after = recorded.restarts[3];
    assert.equal(after?.reason, 'error');
    assert.ok(after && after.delayMs >= 800 && after.delayMs <= 1600, `the delay is the base again: ${after?.delayMs}`);
  });

  it('lists in pages: 1,200 ConfigMaps, 100 a page, all cached', async function () {
    this.timeout(300_000);
    const ns = await namespace('informer-pages');
    const names = Array.from({ length: 1200 }, (_, i) => `cm-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((name) =>
          createConfigMap(ns, name).catch((error) => {
            if (!isConflict(error)) throw error; // left by an earlier run on this control plane
          }),
        ),
      );
    }
    const { informer: inf, recorded } = await informer(configMaps, ns, { pageSize: 100 });
    assert.equal(inf.list().length, 1200);
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      names,
    );
    const [pages = 0, ...more] = recorded.lists;
    assert.deepEqual(more, [], 'one list');
    assert.ok(pages >= 12, `pages requested: ${pages}`);
    await admin.request('DELETE', `/api/v1/namespaces/${ns}/configmaps`);
  });

  it('410 Gone (an ERROR event in the stream): lists again and reports what was deleted in the gap', async () => {
    const ns = await namespace('informer-gone');
    await createConfigMap(ns, 'kept');
    await createConfigMap(ns, 'deleted-in-gap');
    const through = await proxy();
    const { informer: inf, recorded, seen } = await informer(configMaps, ns, { through });
    await watchConnected(through);
    assert.equal(through.freeze(), 2, 'the list connection and the watch connection are frozen');
    await admin.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/deleted-in-gap`);
    await createConfigMap(ns, 'created-in-gap');
    // A new API server's watch cache starts after the gap: resuming from before it is 410 Gone.
    await plane.restartApiServer();
    through.cut();
    await waitFor(async () => recorded.lists.length === 2, {
      timeoutMs: 60_000,
      describe: () => `seen: ${seen.join(' ')}; restarts: ${recorded.reasons().join(' ')}`,
    });
    assert.ok(recorded.reasons().includes('gone'), `restart causes: ${recorded.reasons().join(' ')}`);
    assert.deepEqual(seen.slice(2).sort(), ['added:created-in-gap', 'deleted:deleted-in-gap']);
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ['created-in-gap', 'kept'],
    );
  });

  it('metadata only: Secrets are cached without their data; the transform drops managedFields', async () => {
    const ns = await namespace('informer-metadata');
    for (const name of ['s1', 's2', 's3']) {
      await admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
        body: {
          metadata: { name, annotations: { [lastApplied]: '{"kind":"Secret"}', team: 'a' } },
          stringData: { token: `secret-${name}` },
        },
      });
    }
    const { informer: inf, recorded, seen } = await informer(secrets, ns, { metadataOnly: true, pageSize: 2 });
    assert.deepEqual(recorded.lists, [2], 'two pages of metadata');
    const cached = inf.get(`${ns}/s1`);
    assert.ok(cached);
    assert.equal(cached.kind, 'Secret');
    assert.equal(cached.apiVersion, 'v1');
    assert.equal(cached.data, undefined, 'no data in the cache');
    assert.equal(cached.metadata.managedFields, undefined);
    assert.deepEqual(cached.metadata.annotations, { team: 'a' });
    const live = await admin.get<KubeObject>(`/api/v1/namespaces/${ns}/secrets/s1`);
    assert.equal(cached.metadata.resourceVersion, live.metadata.resourceVersion);
    assert.ok(live.data && live.metadata.managedFields, 'the server does have both');

    const updated = await admin.request<KubeObject>('PATCH', `/api/v1/namespaces/${ns}/secrets/s1`, {
      body: { stringData: { token: 'rotated' } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(async () => inf.get(`${ns}/s1`)?.metadata.resourceVersion === updated.metadata.resourceVersion, {
      timeoutMs: 10_000,
      describe: () => `not updated: ${seen.join(' ')}`,
    });
    const watched = inf.get(`${ns}/s1`);
    assert.equal(watched?.kind, 'Secret');
    assert.equal(watched?.data, undefined, 'a watched change carries no data either');
    assert.equal(watched?.metadata.managedFields, undefined);

    // An empty metadata list comes with `items: null`.
    const none = await informer(secrets, await namespace('informer-metadata-empty'), { metadataOnly: true });
    assert.deepEqual(none.informer.list(), []);

    // Full objects keep their contents; only the transform's fields go (and only with the transform).
    await createConfigMap(ns, 'full', { k: 'v' });
    const full = await informer(configMaps, ns);
    assert.deepEqual(full.informer.get(`${ns}/full`)?.data, { k: 'v' });
    assert.equal(full.informer.get(`${ns}/full`)?.metadata.managedFields, undefined);
    const untransformed = await informer(configMaps, ns, { transform: (o) => o });
    assert.ok(untransformed.informer.get(`${ns}/full`)?.metadata.managedFields, 'the server sends managedFields');
  });
});
