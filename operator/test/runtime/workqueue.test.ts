import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@gco/common/logger';
import { Controller, done, requeueAfter, TerminalError } from '../../src/runtime/controller.ts';
import { Index } from '../../src/runtime/index.ts';
import type { ChangeHandler } from '../../src/runtime/informer.ts';
import type { KubeObject } from '../../src/runtime/resources.ts';
import { TokenBucket, WorkQueue } from '../../src/runtime/workqueue.ts';

/**
 * Lets at least `ms` pass on the clock the queue measures with (performance.now()). A timer alone may
 * fire a little early by that clock: it counts from the event loop's cached time.
 */
async function elapse(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await sleep(Math.max(1, until - performance.now()));
}

/** Resolves once `check` holds, looking after every short timer turn. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`never: ${what}`);
    await sleep(5);
  }
}

describe('controller runtime: work queue', () => {
  it('queues a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });

  it('never hands out a key being processed; an add meanwhile comes back after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.add('a');
    assert.equal(q.length, 0, 'held back while processing');
    q.done('a');
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
  });

  it('reports adds, depth, waits and work as client-go does, also for a key added while processed', async () => {
    const seen = { added: 0, retried: 0, depth: [] as number[], waited: [] as number[], worked: [] as number[] };
    const q = new WorkQueue(
      {},
      {
        added: () => seen.added++,
        depth: (n) => seen.depth.push(n),
        retried: () => seen.retried++,
        waited: (s) => seen.waited.push(s),
        worked: (s) => seen.worked.push(s),
      },
    );
    q.add('a');
    q.add('a');
    assert.deepEqual([seen.added, seen.depth], [1, [1]], 'a duplicate add is not an add');
    await elapse(50);
    assert.equal(await q.get(), 'a');
    assert.ok((seen.waited[0] ?? 0) >= 0.05, `waited ${seen.waited[0]} s in the queue`);
    q.add('a'); // while processed: queued again by done(), one add
    await elapse(100);
    q.done('a');
    assert.ok((seen.worked[0] ?? 0) >= 0.1, `worked ${seen.worked[0]} s`);
    assert.equal(seen.added, 2, 'the add while processed counts once, done() does not add again');
    await elapse(50);
    assert.equal(await q.get(), 'a');
    assert.ok((seen.waited[1] ?? 0) >= 0.15, `the second wait counts from its add: ${seen.waited[1]} s`);
    assert.equal(seen.depth.at(-1), 0);
    q.addRateLimited('b');
    assert.equal(seen.retried, 1);
    q.shutDown();
  });

  it('backs off per key exponentially, and forgets on success', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    assert.deepEqual(
      [q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k')],
      [10, 20, 40, 50],
    );
    assert.equal(q.addRateLimited('other'), 10, 'per key');
    q.forget('k');
    assert.equal(q.addRateLimited('k'), 10);
    q.shutDown();
  });

  it('keeps the earliest of several delayed adds, in either order', async () => {
    const q = new WorkQueue();
    q.addAfter('later-first', 5000);
    q.addAfter('later-first', 20);
    q.addAfter('sooner-first', 20);
    q.addAfter('sooner-first', 5000);
    // Half the longer delay: only a key that kept its 5 s delay is not there by then.
    const timer = new AbortController();
    const deadline = sleep(2500, 'the 5 s delay was kept', { signal: timer.signal });
    try {
      const got = [await Promise.race([q.get(), deadline]), await Promise.race([q.get(), deadline])];
      assert.deepEqual(got.sort(), ['later-first', 'sooner-first']);
    } finally {
      timer.abort();
      q.shutDown();
    }
  });

  it('never throttles new events: a thousand adds come out at once with a bucket of 1/s', async () => {
    // client-go rate-limits only AddRateLimited; a throttled get() (the old behaviour) drained 5,000
    // objects at 10/s after every restart and resync.
    const q = new WorkQueue({ qps: 1, burst: 1 });
    for (let i = 0; i < 1000; i++) q.add(`k${i}`);
    let macrotaskRan = false;
    setImmediate(() => {
      macrotaskRan = true;
    });
    const got: Array<string | undefined> = [];
    for (let i = 0; i < 1000; i++) got.push(await q.get());
    assert.equal(macrotaskRan, false, 'every get() was answered without waiting for a timer');
    assert.equal(new Set(got).size, 1000);
    q.shutDown();
  });

  it('rate-limits failures by the larger of the per-key backoff and the overall bucket', () => {
    const q = new WorkQueue({ baseDelayMs: 1, maxDelayMs: 60_000, qps: 1, burst: 1 });
    const delays = ['a', 'b', 'c'].map((k) => q.addRateLimited(k));
    assert.equal(delays[0], 1, 'the first retry has a token: its own backoff');
    assert.ok((delays[1] ?? 0) >= 990 && (delays[1] ?? 0) <= 1000, `second waits for the next token: ${delays[1]}`);
    assert.ok((delays[2] ?? 0) >= 1990 && (delays[2] ?? 0) <= 2000, `third queues behind it: ${delays[2]}`);
    q.shutDown();
  });

  it('token bucket: reservations queue behind each other and refill at qps up to the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100, 200]);
    now = 10_000; // long idle: refills to the burst, no more
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100]);
  });

  it('wakes waiting workers and stops them on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('late');
    assert.equal(await waiting, 'late');
    const stopped = q.get();
    q.shutDown();
    assert.equal(await stopped, undefined);
  });
});

describe('controller runtime: controller', () => {
  function source(objects: Map<string, KubeObject>) {
    const handlers: Array<ChangeHandler<KubeObject>> = [];
    return {
      get: (k: string) => objects.get(k),
      onChange: (h: ChangeHandler<KubeObject>) => handlers.push(h),
      emit: (obj: KubeObject) => {
        for (const h of handlers) h('added', obj, undefined);
      },
    };
  }
  const obj = (name: string): KubeObject => ({
    metadata: { name, namespace: 'ns', generation: 1, resourceVersion: '1' },
  });

  it('never runs two reconciles of one key at once, runs different keys in parallel, and coalesces adds', async () => {
    const objects = new Map([
      ['ns/a', obj('a')],
      ['ns/b', obj('b')],
    ]);
    const src = source(objects);
    let running = 0;
    let maxParallel = 0;
    const calls = new Map<string, number>();
    /** Each reconcile waits here until the test lets it finish. */
    const held: Array<() => void> = [];
    const controller = new Controller({
      name: 't',
      informer: src,
      concurrency: 4,
      logger: silentLogger,
      reconcile: async (_o, ctx) => {
        running++;
        maxParallel = Math.max(maxParallel, running);
        calls.set(ctx.key, (calls.get(ctx.key) ?? 0) + 1);
        await new Promise<void>((resolve) => held.push(resolve));
        running--;
        return done;
      },
    });
    controller.start();
    src.emit(obj('a'));
    src.emit(obj('b'));
    await until(() => running === 2, 'both keys are reconciled at once');
    // Events while both are being reconciled: two free workers, yet no second reconcile of either key.
    for (let i = 0; i < 5; i++) {
      src.emit(obj('a'));
      src.emit(obj('b'));
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(running, 2, 'a key being reconciled is not handed to another worker');
    for (const release of held.splice(0)) release();
    // The five events of each key, added while it was processed, make one more reconcile of it.
    await until(() => calls.get('ns/a') === 2 && calls.get('ns/b') === 2 && running === 2, 'one more each');
    for (const release of held.splice(0)) release();
    await until(() => running === 0, 'the reconciles end');
    await controller.stop();
    assert.deepEqual([calls.get('ns/a'), calls.get('ns/b'), maxParallel], [2, 2, 2]);
  });

  it('retries thrown errors with backoff, not terminal ones, and honours requeueAfter', async () => {
    const objects = new Map([
      ['ns/flaky', obj('flaky')],
      ['ns/broken', obj('broken')],
      ['ns/later', obj('later')],
    ]);
    const src = source(objects);
    const calls = new Map<string, number>();
    const controller = new Controller({
      name: 't',
      informer: src,
      concurrency: 3,
      queue: { baseDelayMs: 10 },
      logger: silentLogger,
      reconcile: async (o) => {
        const n = (calls.get(o.metadata.name) ?? 0) + 1;
        calls.set(o.metadata.name, n);
        if (o.metadata.name === 'flaky' && n < 3) throw new Error('transient');
        if (o.metadata.name === 'broken') throw new TerminalError('no');
        if (o.metadata.name === 'later' && n === 1) return requeueAfter(50);
        return done;
      },
    });
    controller.start();
    for (const name of ['flaky', 'broken', 'later']) src.emit(obj(name));
    await until(() => calls.get('flaky') === 3 && calls.get('later') === 2, 'flaky retried, later requeued');
    await controller.stop();
    assert.equal(calls.get('flaky'), 3, 'retried until it succeeded');
    // 'broken' failed with 'flaky' and would have been retried after the same 10 ms, before flaky's third call.
    assert.equal(calls.get('broken'), 1, 'a terminal error is not retried');
    assert.equal(calls.get('later'), 2, 'requeued once');
  });
});

describe('controller runtime: index', () => {
  it('files objects under their values and follows updates and deletes', () => {
    const handlers: Array<ChangeHandler<KubeObject & { ref?: string }>> = [];
    const source = { onChange: (h: ChangeHandler<KubeObject & { ref?: string }>) => handlers.push(h) };
    const index = new Index(source, (o: KubeObject & { ref?: string }) => (o.ref ? [o.ref] : []));
    const emit = (type: 'added' | 'updated' | 'deleted', name: string, ref?: string) => {
      for (const h of handlers) h(type, { metadata: { name, namespace: 'ns' }, ref }, undefined);
    };
    emit('added', 'a', 's1');
    emit('added', 'b', 's1');
    emit('added', 'c');
    assert.deepEqual(index.keys('s1').sort(), ['ns/a', 'ns/b']);
    emit('updated', 'b', 's2');
    assert.deepEqual([index.keys('s1'), index.keys('s2')], [['ns/a'], ['ns/b']]);
    emit('deleted', 'a', 's1');
    assert.deepEqual(index.keys('s1'), []);
    assert.deepEqual(index.keys('nothing'), []);
  });
});
