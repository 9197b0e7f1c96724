/**
 * Bytes of each long-lived structure of the sidecar per entry, and at its bound: the figures of the
 * README's "Memory" section. The V8 heap measured around filling each structure with realistic entries
 * (after full collections), and the resident memory of a `git cat-file --batch`, the one process a
 * batch keeps open.
 *
 *   node --expose-gc git-sidecar/bench/held-structures.bench.ts     # about 50 s on 2 cores
 *
 * (Its own script, not part of `npm run bench`: the figures are per structure, in the bench's process;
 * the sidecar's memory as a whole, idle and under load, is what `npm run bench` measures.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { silentLogger } from '@gco/common/logger';
import { createSidecarClient } from '@gco/sidecar-api';
import { createBareRepository, removeTempDirs, runOk, tempDir } from '@gco/testenv';
import { ExecutionIndex } from '../src/git/execution-index.ts';
import { ObjectStore } from '../src/git/objects.ts';
import { DefaultBranchCache, maxCachedDefaultBranches } from '../src/jobs/default-branch-cache.ts';
import { maxIndexedCommits } from '../src/jobs/execution-indexes.ts';
import { maxContendedBranches } from '../src/jobs/push-loop.ts';
import { RecentMap } from '../src/jobs/recent-map.ts';
import { Scheduler } from '../src/jobs/scheduler.ts';
import { listen } from '../src/server.ts';
import { createService } from '../src/service.ts';
import { CloneStore } from '../src/store/clone-store.ts';
import { parseRemoteUrl } from '../src/store/remote-url.ts';
import { flatCopy } from '../src/strings.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** Heap bytes per entry of what `fill` keeps alive (it returns it, so it is not collected meanwhile). */
async function perEntry(entries: number, fill: () => Promise<unknown>): Promise<number> {
  const before = heap();
  const kept = await fill();
  const after = heap();
  if (kept === undefined) throw new Error('nothing kept');
  return (after - before) / entries;
}

// A branch of 1,000 commits as the controller writes them: message, Gco-Source and Gco-Execution.
const depth = 1000;
const gitDir = join(await tempDir('gco-bench-held-'), 'r.git');
await runOk('git', ['init', '--quiet', '--bare', '--initial-branch=main', gitDir]);
const importer = spawn('git', ['fast-import', '--quiet', '--done'], {
  cwd: gitDir,
  stdio: ['pipe', 'ignore', 'inherit'],
});
let stream = '';
for (let c = 0; c < depth; c++) {
  const message =
    `Export of GitCommit team-a/config-${c}\n\n` +
    `Gco-Source: GitCommit/team-a/config-${c}\nGco-Execution: 0f3c2a1e-${String(c).padStart(4, '0')}-4e1b-9a7d-5c2b8e6f1a3d\n`;
  const who = `Gco <gco@example.com> ${1_700_000_000 + c} +0000`;
  stream +=
    `commit refs/heads/main\nauthor ${who}\ncommitter ${who}\ndata ${Buffer.byteLength(message)}\n${message}\n` +
    `M 100644 inline f${c % 50}.txt\ndata 4\n${String(c % 1000).padStart(3, '0')}\n\n`;
}
importer.stdin.end(`${stream}done\n`);
await once(importer, 'close');

const objects = new ObjectStore({ gitDir, env: process.env, timeoutMs: 60_000 });
const tip = (await objects.resolveCommit('main')) as string;
const indexes = 10;
const commitBytes = await perEntry(indexes * depth, async () => {
  const kept: ExecutionIndex[] = [];
  for (let i = 0; i < indexes; i++) {
    const index = new ExecutionIndex(depth);
    await index.find(objects, tip, new Set(['none']));
    kept.push(index);
  }
  return kept;
});
await objects.close();
console.log(
  `[figure] execution index: ${commitBytes.toFixed(0)} bytes per indexed commit; ` +
    `at the bound of ${maxIndexedCommits} commits ${mb(commitBytes * maxIndexedCommits)}`,
);

// Parsed anew for each entry, as each request is: keys as the sidecar makes them (a readable host and
// path, then a hash), each its own string.
const remote = (i: number) =>
  parseRemoteUrl(`https://github.com/example-org/config-repository-${i}.git`, { allowFileUrls: false });
const branchBytes = await perEntry(maxCachedDefaultBranches, async () => {
  const cache = new DefaultBranchCache(600_000);
  for (let i = 0; i < maxCachedDefaultBranches; i++) {
    await cache.get(remote(i).key, async () => flatCopy('main'));
  }
  return cache;
});
console.log(
  `[figure] default branch cache: ${branchBytes.toFixed(0)} bytes per repository; ` +
    `at the bound of ${maxCachedDefaultBranches} ${kb(branchBytes * maxCachedDefaultBranches)}`,
);

const contendedBytes = await perEntry(maxContendedBranches, async () => {
  const contended = new RecentMap<true>(maxContendedBranches);
  for (let i = 0; i < maxContendedBranches; i++) {
    // As the push loop makes them: the clone's key, NUL, the branch.
    contended.set(flatCopy(`${remote(i).key}\0gco/pull-request-head-${i}`), true);
  }
  return contended;
});
console.log(
  `[figure] contended branches: ${contendedBytes.toFixed(0)} bytes per branch; ` +
    `at the bound of ${maxContendedBranches} ${kb(contendedBytes * maxContendedBranches)}`,
);

const clones = 1000;
const store = new CloneStore({
  dataDir: join(await tempDir('gco-bench-held-'), 'data'),
  diskBudgetBytes: 0,
  gitTimeoutMs: 60_000,
  logger: silentLogger,
});
await store.recover();
// Made first, measured when opened again: the store keeps its entry, the clone's files are on disk.
for (let i = 0; i < clones; i++) await store.open(remote(i));
const fresh = new CloneStore({
  dataDir: join(store.clonesDir, '..'),
  diskBudgetBytes: 0,
  gitTimeoutMs: 60_000,
  logger: silentLogger,
});
const cloneBytes = await perEntry(clones, async () => {
  // Parsed again, as each request is: the store keeps the key string of the first open.
  for (let i = 0; i < clones; i++) {
    await fresh.open(remote(i));
  }
  return fresh;
});
console.log(
  `[figure] clone store: ${cloneBytes.toFixed(0)} bytes per clone on the volume ` +
    `(${kb(cloneBytes * 10_000)} for 10,000 clones)`,
);

// The reader of a batch: `cat-file --batch` after the execution-index walk of 1,000 commits and the
// trees of a 10,000-file commit, as a batch into such a repository reads them.
const big = join(await tempDir('gco-bench-held-'), 'big.git');
await createBareRepository(big, { files: 10_000, commits: 2 });
const reader = new ObjectStore({ gitDir: big, env: process.env, timeoutMs: 60_000 });
const bigTip = (await reader.resolveCommit('main')) as string;
const rootTree = /^tree (\S+)$/m.exec((await reader.read(bigTip))?.content.toString() ?? '')?.[1] as string;
for (const entry of await reader.readTree(rootTree)) {
  if (entry.type === 'tree') for (const sub of await reader.readTree(entry.oid)) await reader.read(sub.oid);
}
const walker = new ObjectStore({ gitDir, env: process.env, timeoutMs: 60_000 });
await new ExecutionIndex(depth).find(walker, tip, new Set(['none']));
const ps = await runOk('ps', ['-o', 'rss=,args=', '--ppid', String(process.pid)]);
const readers = ps
  .split('\n')
  .filter((l) => l.includes('cat-file'))
  .map((l) => Number(l.trim().split(/\s+/)[0]) * 1024);
console.log(
  `[figure] git cat-file --batch of a running batch: ${readers.map(mb).join(' (10,000-file trees read), ')} ` +
    '(1,000 commits walked) resident',
);
await reader.close();
await walker.close();

// The gRPC server (Connect over node:http2): what a call leaves behind on the controller's one
// long-lived connection, after 20,000 of them (Health: no job, so only the server's own state).
const socketPath = join(await tempDir('gco-bench-held-'), 'sidecar.sock');
const scheduler = new Scheduler({ executor: { run: async () => {} }, concurrency: 1, maxBatch: 1 });
const limits = { maxFileBytes: 1, maxJobBytes: 1, maxOperations: 1, maxPathBytes: 1 };
const service = createService({
  scheduler,
  store,
  limits,
  allowFileUrls: false,
  defaultJobTimeoutMs: 60_000,
  gitTimeoutMs: 60_000,
  logger: silentLogger,
});
const listener = await listen(service, { socketPath });
const client = createSidecarClient({ socketPath });
for (let i = 0; i < 2000; i++) await client.health({});
const callsBefore = heap();
for (let i = 0; i < 20_000; i++) await client.health({});
console.log(`[figure] gRPC server: heap ${kb(heap() - callsBefore)} after 20,000 more calls on one connection`);
await listener.close();
await removeTempDirs();
