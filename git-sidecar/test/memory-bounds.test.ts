// What the sidecar keeps in memory between jobs does not grow with the jobs it has seen or the
// repositories it has served: each long-lived structure is released when its job or its clone is done,
// or stays within its bound (git-sidecar/README.md, "Memory"). Counts, not bytes: the bytes are for
// bench/held-structures.bench.ts. The real sidecar process over its socket, against a real git server;
// what it holds is read from its gco_sidecar_held_entries gauge, its Health call, its volume and /proc.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '@gco/common/logger';
import { createSidecarClient, Failure_Reason as Reason } from '@gco/sidecar-api';
import {
  createBareRepository,
  GitHttpServer,
  runOk,
  type SidecarProcess,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { commitRequest, executionId, expectFailure, tokenCredentials } from '@gco/testenv/sidecar';
import { ExecutionIndexes } from '../src/jobs/execution-indexes.ts';
import { RecentMap } from '../src/jobs/recent-map.ts';
import { CloneStore } from '../src/store/clone-store.ts';
import { parseRemoteUrl } from '../src/store/remote-url.ts';

const token = 'ghp_memory_bounds_token_0123456789';

/** The sidecar's gco_sidecar_held_entries, by structure. */
async function held(sidecar: SidecarProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${sidecar.metricsPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^gco_sidecar_held_entries\{structure="(\w+)"\} (\d+)$/gm))
    out[m[1] as string] = Number(m[2]);
  assert.ok(Object.keys(out).length > 0, `no gco_sidecar_held_entries in:\n${text}`);
  return out;
}

/** What no job in flight may leave behind. */
const perJob = [
  'queued_jobs',
  'queued_repositories',
  'waiting_repositories',
  'active_repositories',
  'queue_listeners',
  'active_secrets',
];

/** The processes whose parent is `pid` (the git commands the sidecar runs), as `pid command`. */
async function childrenOf(pid: number): Promise<string[]> {
  const children: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      children.push(`${entry} ${cmdline.replaceAll('\0', ' ').trim()}`);
    }
  }
  return children;
}

/** Waits until no job is in flight and eviction is done (`clones` left), and answers what is held then. */
async function idle(sidecar: SidecarProcess, clones: number): Promise<Record<string, number>> {
  let now: Record<string, number> = {};
  await waitFor(
    async () => {
      now = await held(sidecar);
      return now.clones === clones && perJob.every((structure) => now[structure] === 0);
    },
    { timeoutMs: 20_000, describe: () => `not idle with ${clones} clone(s): ${JSON.stringify(now)}` },
  );
  return now;
}

/**
 * Waits for the sidecar to finish with its jobs (a success is answered before its batch has let go of
 * its credentials and measured its clone), then asserts it holds nothing of them: no queue, secret,
 * credential file or git process.
 */
async function assertNothingOfJobs(sidecar: SidecarProcess): Promise<void> {
  let now: Record<string, number> = {};
  await waitFor(
    async () => {
      now = await held(sidecar);
      return perJob.every((structure) => now[structure] === 0);
    },
    { timeoutMs: 20_000, describe: () => `the jobs' state was not released: ${JSON.stringify(now)}` },
  );
  const health = await createSidecarClient({ socketPath: sidecar.socketPath }).health({});
  assert.equal(health.jobsInFlight, 0);
  assert.deepEqual(await readdir(join(sidecar.dataDir, 'tmp')), [], 'no credential or trace file is left');
  const pid = sidecar.process.child.pid as number;
  assert.deepEqual(await childrenOf(pid), [], 'no git process is left running');
}

describe('git sidecar: memory bounds', function () {
  this.timeout(300_000);

  describe('its structures', () => {
    it('RecentMap keeps its bound, dropping the least recently used, and forgets a prefix', () => {
      const map = new RecentMap<number>(3);
      map.set('a\0main', 1);
      map.set('a\0dev', 2);
      map.set('b\0main', 3);
      assert.equal(map.get('a\0main'), 1, 'used: now the most recent');
      assert.equal(map.has('a\0dev'), true, 'has() does not make it more recent');
      map.set('c\0main', 4);
      assert.equal(map.size, 3);
      assert.equal(map.has('a\0dev'), false, 'the least recently used was dropped');
      map.deletePrefix('a\0');
      assert.deepEqual([...map.values()], [3, 4]);
      for (let i = 0; i < 1000; i++) map.set(`r${i}`, i);
      assert.equal(map.size, 3);
      assert.throws(() => new RecentMap(0));
    });

    it('execution indexes count their commits and forget a removed clone’s branches', async () => {
      const indexes = new ExecutionIndexes(100, 1000);
      indexes.of('a\0main');
      indexes.of('a\0feature');
      indexes.of('b\0main');
      assert.equal(indexes.size, 3);
      assert.equal(indexes.commits, 0);
      indexes.forget('a\0');
      assert.equal(indexes.size, 1);
    });

    describe('the clone store', () => {
      let dataDir: string;
      let store: CloneStore;
      let removed: string[];
      const remote = (name: string) => parseRemoteUrl(`https://git.example.com/${name}.git`, { allowFileUrls: false });
      const open = async (name: string) => (await store.open(remote(name))).clone;
      const hold = async <T>(_key: string, task: () => Promise<T>) => task();

      beforeEach(async () => {
        dataDir = join(await tempDir(), 'data');
        store = new CloneStore({ dataDir, diskBudgetBytes: 0, gitTimeoutMs: 30_000, logger: silentLogger });
        await store.recover();
        removed = [];
        store.onRemoved((key) => removed.push(key));
      });

      it('keeps an entry while the clone exists and forgets it with the clone, even one already gone', async () => {
        const a = await open('a');
        const b = await open('b');
        assert.equal(store.count(), 2);
        await store.remove(a.key);
        // b's directory disappears behind the store's back (a crash while evicting): it is still forgotten.
        await rm(b.gitDir, { recursive: true });
        await store.remove(b.key);
        assert.equal(store.count(), 0);
        assert.deepEqual(removed, [a.key, b.key]);
        await store.updateSize(a);
        assert.equal(store.count(), 0, 'a size measured after the removal does not bring the entry back');
        assert.deepEqual(await readdir(store.clonesDir), []);
      });

      it('leaves no entry for a clone it could not make', async () => {
        await rm(store.clonesDir, { recursive: true });
        await writeFile(store.clonesDir, 'not a directory');
        await assert.rejects(open('a'));
        assert.equal(store.count(), 0);
        await rm(store.clonesDir);
        await mkdir(store.clonesDir);
      });

      it('removes a clone nothing was fetched into, and keeps one that has refs', async () => {
        const empty = await open('empty');
        assert.equal(await store.removeIfEmpty(empty), true);
        const fetched = await open('fetched');
        const source = join(dataDir, 'source.git');
        await createBareRepository(source, { files: 1 });
        await runOk('git', ['--git-dir', fetched.gitDir, 'fetch', '--quiet', source, '+main:refs/remotes/origin/main']);
        assert.equal(await store.removeIfEmpty(fetched), false);
        assert.deepEqual(store.keys(), [fetched.key]);
        assert.deepEqual(removed, [empty.key]);
      });

      it('evicts over its budget only what the scheduler lets it hold, least recently used first', async () => {
        store = new CloneStore({ dataDir, diskBudgetBytes: 1, gitTimeoutMs: 30_000, logger: silentLogger });
        await store.recover();
        const [a, b, c] = [await open('a'), await open('b'), await open('c')];
        for (const clone of [a, b, c]) await store.updateSize(clone);
        const busy = b.key;
        const evicted = await store.evict(async (key, task) => (key === busy ? undefined : task()));
        assert.deepEqual(evicted, [a.key], 'a evicted; b busy; c the most recent');
        assert.deepEqual(store.keys().sort(), [b.key, c.key].sort());
        assert.deepEqual(await store.evict(hold), [b.key]);
      });
    });
  });

  describe('the sidecar process', () => {
    let root: string;
    let server: GitHttpServer;
    let n = 0;
    const creds = tokenCredentials(token);

    async function repository() {
      const name = `m-${n++}.git`;
      const gitDir = join(root, 'repos', name);
      await createBareRepository(gitDir, { files: 3 });
      return { url: server.url(name), gitDir, name };
    }

    before(async () => {
      root = await tempDir();
      server = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
    });
    after(() => server.stop());

    it('after jobs to more repositories than its disk budget keeps, holds only what the kept clone needs', async () => {
      const sidecar = await startSidecar({ args: ['--disk-budget=1'] });
      try {
        const client = createSidecarClient({ socketPath: sidecar.socketPath });
        const repos = [];
        const firstIds: string[] = [];
        for (let i = 0; i < 6; i++) {
          const repo = await repository();
          repos.push(repo);
          const id = executionId('bounds');
          firstIds.push(id);
          // No branch: the default branch is asked of the remote and cached.
          const res = await client.commit(
            commitRequest({
              url: repo.url,
              branch: '',
              id,
              credentials: creds,
              ops: [{ path: 'a.txt', content: `${i}` }],
            }),
          );
          assert.equal(res.pushed, true);
          await client.commit(
            commitRequest({
              url: repo.url,
              branch: 'feature',
              baseBranch: 'main',
              credentials: creds,
              ops: [{ path: 'b.txt', content: `${i}` }],
            }),
          );
          if (i === 2) {
            await expectFailure(
              client.commit(
                commitRequest({
                  url: server.url('missing.git'),
                  credentials: creds,
                  ops: [{ path: 'x', content: 'x' }],
                }),
              ),
              Reason.REPOSITORY_NOT_FOUND,
            );
            const clones = await readdir(join(sidecar.dataDir, 'clones'));
            assert.ok(!clones.some((c) => c.includes('missing')), `its empty clone was removed: ${clones.join(' ')}`);
          }
        }
        // Eviction runs after each batch, once its answer is sent.
        let now = await idle(sidecar, 1);
        assert.equal((await readdir(join(sidecar.dataDir, 'clones'))).length, 1);
        assert.equal(now.default_branches, 1, `only the kept clone's default branch: ${JSON.stringify(now)}`);
        assert.equal(
          now.execution_indexes,
          2,
          `only the kept clone's two branches are indexed: ${JSON.stringify(now)}`,
        );
        assert.ok((now.indexed_commits ?? 0) > 0 && (now.indexed_commits ?? 0) <= 2 * 1000, JSON.stringify(now));
        assert.equal(now.contended_branches, 0);
        await assertNothingOfJobs(sidecar);

        // A repository whose clone and indexes were forgotten: its retried execution is still found.
        const again = await client.commit(
          commitRequest({
            url: repos[0]?.url ?? '',
            branch: '',
            id: firstIds[0],
            credentials: creds,
            ops: [{ path: 'a.txt', content: '0' }],
          }),
        );
        assert.equal(again.alreadyApplied, true, 'the execution landed before its clone was evicted');
        now = await idle(sidecar, 1);
        assert.equal(now.default_branches, 1);
        assert.equal(now.execution_indexes, 1);
        await assertNothingOfJobs(sidecar);
      } finally {
        await sidecar.stop();
      }
    });

    it('without a disk budget, keeps execution indexes within their bound and no contention after a push lands', async () => {
      // 50,000 indexed commits at most: two branches at this depth.
      const sidecar = await startSidecar({ args: ['--execution-search-depth=25000'] });
      const other = await startSidecar();
      try {
        const client = createSidecarClient({ socketPath: sidecar.socketPath });
        const repo = await repository();
        for (const branch of ['main', 'b1', 'b2', 'b3', 'b4']) {
          await client.commit(
            commitRequest({
              url: repo.url,
              branch,
              baseBranch: 'main',
              credentials: creds,
              ops: [{ path: 'f', content: branch }],
            }),
          );
        }
        let now = await idle(sidecar, 1);
        assert.equal(now.execution_indexes, 2, JSON.stringify(now));
        assert.equal(now.clones, 1);

        // Another sidecar (another cluster) moves main: this one's optimistic push is refused, it fetches and
        // pushes again, and once that push lands the branch is no longer marked contended.
        const main = (b: string) =>
          commitRequest({ url: repo.url, branch: 'main', credentials: creds, ops: [{ path: 'g', content: b }] });
        await client.commit(main('1'));
        await createSidecarClient({ socketPath: other.socketPath }).commit(main('2'));
        const res = await client.commit(main('3'));
        assert.ok(res.attempts >= 2, `the push was refused once and retried (attempts ${res.attempts})`);
        now = await idle(sidecar, 1);
        assert.equal(now.contended_branches, 0, JSON.stringify(now));
        assert.equal(now.execution_indexes, 2);
        await assertNothingOfJobs(sidecar);
      } finally {
        await other.stop();
        await sidecar.stop();
      }
    });

    it('lets go of a queued job as soon as its caller gives up, while the batch ahead of it still runs', async () => {
      const repo = await repository();
      let reached = false;
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      server.addRoute(async (req) => {
        if (req.url?.includes(repo.name) && req.url.includes('upload-pack')) {
          reached = true;
          await gate;
        }
        return false;
      });
      const sidecar = await startSidecar();
      try {
        const client = createSidecarClient({ socketPath: sidecar.socketPath });
        const running = client.commit(
          commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'first', content: '1' }] }),
        );
        await waitFor(async () => reached, { timeoutMs: 30_000, describe: () => 'the first job never fetched' });
        const abandon = new AbortController();
        const queued = client.commit(
          commitRequest({ url: repo.url, credentials: creds, ops: [{ path: 'big', content: 'x'.repeat(1 << 20) }] }),
          { signal: abandon.signal },
        );
        queued.catch(() => {});
        await waitFor(async () => (await held(sidecar)).queued_jobs === 1, {
          timeoutMs: 10_000,
          describe: async () => `the second job was not queued: ${JSON.stringify(await held(sidecar))}`,
        });
        abandon.abort();
        await assert.rejects(queued);
        let now: Record<string, number> = {};
        await waitFor(
          async () => {
            now = await held(sidecar);
            return now.queued_jobs === 0 && now.queue_listeners === 0;
          },
          { timeoutMs: 10_000, describe: () => `the abandoned job is still queued: ${JSON.stringify(now)}` },
        );
        assert.equal(now.active_repositories, 1, 'while the first batch still runs');
        release();
        assert.equal((await running).pushed, true);
        await assertNothingOfJobs(sidecar);
      } finally {
        release();
        await sidecar.stop();
      }
    });
  });
});
