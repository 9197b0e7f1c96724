/**
 * Process faults during a burst of GitCommits, with the real operator and sidecar processes: a leader
 * killed (its standby takes over), a replica with a skewed clock, an operator or sidecar killed and
 * restarted, a SIGTERM. Each ends with "every execution exactly one commit", checked by the commits'
 * Gco-Source/Gco-Execution trailers against the executions the resources report.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertExactlyOnce,
  type ControlPlane,
  commitsWithTrailers,
  createBareRepository,
  GitHttpServer,
  type OperatorProcess,
  operatorNamespace,
  reportedExecutions,
  type SidecarProcess,
  sharedControlPlane,
  startOperator,
  startSidecar,
  tempDir,
  waitFor,
} from '@gco/testenv';
import { stringify } from 'yaml';
import { pushGate, token, tokenSecret } from '../support.ts';

const burstSize = 20;
/** Short election timings (client-go's rules hold: 4 > 3 > 0.5 * 1.2), so that takeovers come soon. */
const leaseSeconds = 4;
const election = (id: string) => [
  '--leader-elect',
  `--leader-election-id=${id}`,
  `--leader-elect-lease-duration=${leaseSeconds}`,
  '--leader-elect-renew-deadline=3',
  '--leader-elect-retry-period=0.5',
];
/** Few workers, so that a burst lasts long enough to be interrupted in the middle. */
const concurrency = '--concurrency=2';

/** libfaketime, from Debian's faketime package (hack/setup.sh installs it). */
function libfaketime(): string {
  const candidates = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map(
    (arch) => `/usr/lib/${arch}/faketime/libfaketime.so.1`,
  );
  const found = candidates.find((p) => existsSync(p));
  assert.ok(found, `libfaketime not found (${candidates.join(', ')}): run hack/setup.sh (Debian package faketime)`);
  return found;
}

interface Replica {
  sidecar: SidecarProcess;
  operator: OperatorProcess;
}

describe('process faults: exactly one commit per execution', function () {
  this.timeout(180_000);
  let plane: ControlPlane;
  let git: GitHttpServer;
  let root: string;
  const started: Array<{ stop(): Promise<void> }> = [];

  before(async function () {
    this.timeout(120_000);
    plane = await sharedControlPlane();
    root = await tempDir('gco-faults-');
    git = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
  });
  afterEach(async () => {
    for (const p of started.splice(0).reverse()) await p.stop();
  });
  after(async () => {
    await git?.stop();
  });

  const kubectl = async (args: string[], input?: string) => {
    const result = await plane.kubectl(args, { input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  /** A namespace with the token Secret, and an empty repository on the git server. */
  async function scenario(name: string) {
    await plane.ensureNamespace(name);
    await kubectl(['apply', '-f', '-'], JSON.stringify(tokenSecret('git-credentials', name)));
    const gitDir = join(root, 'repos', `${name}.git`);
    await createBareRepository(gitDir, { files: 1 });
    return { ns: name, gitDir, url: git.url(`${name}.git`) };
  }

  async function replica(opts: {
    args: string[];
    env?: NodeJS.ProcessEnv;
    standby?: boolean;
    sidecar?: SidecarProcess;
  }): Promise<Replica> {
    const sidecar = opts.sidecar ?? (await startSidecar());
    if (!opts.sidecar) started.push(sidecar);
    const operator = await startOperator(plane, {
      sidecarSocket: sidecar.socketPath,
      args: [concurrency, ...opts.args],
      env: opts.env,
      standby: opts.standby,
    });
    started.push(operator);
    return { sidecar, operator };
  }

  /** `count` GitCommits, each adding its own file to the branch, applied at once. */
  async function burst(s: { ns: string; url: string }, prefix: string, count = burstSize) {
    const items = Array.from({ length: count }, (_, i) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name: `${prefix}-${i}`, namespace: s.ns },
      spec: {
        repository: { url: s.url, branch: 'main' },
        auth: { secretName: 'git-credentials' },
        commit: { message: `${prefix} ${i}` },
        files: [{ path: `${prefix}/${i}.txt`, content: `${i}\n` }],
      },
    }));
    await kubectl(['apply', '-f', '-'], stringify({ apiVersion: 'v1', kind: 'List', items }));
  }

  async function gitCommits(ns: string): Promise<any[]> {
    return (JSON.parse(await kubectl(['get', 'gitcommits', '-n', ns, '-o', 'json'])) as { items: any[] }).items;
  }
  const isReady = (o: any) => (o.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

  /** Waits until the burst is under way: its first commit has landed. */
  async function firstCommitLanded(gitDir: string, prefix: string) {
    await waitFor(async () => (await commitsWithTrailers(gitDir)).some((c) => c.source.includes(`/${prefix}-`)), {
      timeoutMs: 60_000,
      intervalMs: 50,
      describe: () => `no commit of ${prefix} landed`,
    });
  }

  /** The test is only meaningful when the fault hit the burst in the middle. */
  async function assertMidBurst(ns: string, prefix: string) {
    const ready = (await gitCommits(ns)).filter((o) => o.metadata.name.startsWith(prefix) && isReady(o)).length;
    assert.ok(ready < burstSize, `the burst ${prefix} had finished before the fault (${ready} Ready)`);
  }

  async function allReady(ns: string, count: number, logs: () => Promise<string>) {
    await waitFor(async () => (await gitCommits(ns)).filter(isReady).length === count, {
      timeoutMs: 120_000,
      intervalMs: 250,
      describe: async () => {
        const pending = (await gitCommits(ns)).filter((o) => !isReady(o));
        return `${pending.length} GitCommits not Ready: ${JSON.stringify(pending.map((o) => [o.metadata.name, o.status]))}\n${(await logs()).slice(-4000)}`;
      },
    });
  }

  /** Every execution exactly one commit; every GitCommit exactly one execution, Committed. */
  async function assertExactlyOnePerExecution(s: { ns: string; gitDir: string }, count: number) {
    const commits = await commitsWithTrailers(s.gitDir);
    const json = await kubectl(['get', 'gitcommits', '-n', s.ns, '-o', 'json']);
    const reported = reportedExecutions(json);
    assert.equal(reported.length, count);
    assertExactlyOnce(commits, reported);
    for (const r of reported) {
      assert.deepEqual(
        r.history.map((h) => h.result),
        ['Committed'],
        `${r.source}: one execution, committed`,
      );
    }
    assert.equal(commits.length, count, 'one commit per GitCommit, no more');
  }

  const kill9 = async (operator: OperatorProcess) => {
    const exited = once(operator.process.child, 'exit');
    process.kill(-(operator.process.child.pid as number), 'SIGKILL');
    await exited;
  };
  const leaseHolder = async (id: string) =>
    JSON.parse(await kubectl(['get', 'lease', id, '-n', operatorNamespace, '-o', 'json'])).spec as {
      holderIdentity?: string;
      renewTime?: string;
      leaseTransitions?: number;
    };
  const leads = async (operator: OperatorProcess) => /"controllers started"/.test(await operator.logs());

  it('two replicas: the leader is killed (-9) mid-burst, the standby takes over', async () => {
    const s = await scenario('fault-failover');
    const id = 'gco-fault-failover';
    const leader = await replica({ args: election(id) });
    const standby = await replica({ args: election(id), standby: true });
    assert.equal(await leads(standby.operator), false);
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    const killedAt = Date.now();
    await kill9(leader.operator);
    await assertMidBurst(s.ns, 'a');
    await waitFor(() => leads(standby.operator), {
      timeoutMs: 30_000,
      describe: async () => `the standby did not take over:\n${await standby.operator.logs()}`,
    });
    const failoverMs = Date.now() - killedAt;
    await allReady(s.ns, burstSize, standby.operator.logs);
    await assertExactlyOnePerExecution(s, burstSize);
    assert.equal((await leaseHolder(id)).leaseTransitions, 1);
    // Not a timing assertion: the figure for the README (lease duration + a jittered retry + cache sync).
    process.stderr.write(`[figure] failover after kill -9 (lease ${leaseSeconds} s): ${failoverMs} ms\n`);
  });

  it('a replica with its clock an hour ahead neither takes a live lease nor misses an expired one', async () => {
    const s = await scenario('fault-skew');
    const id = 'gco-fault-skew';
    // Real skew in the process: libfaketime shifts the wall clock (Date) by an hour; the monotonic clock
    // is left alone, as a skewed node's would be.
    const skew = { LD_PRELOAD: libfaketime(), FAKETIME: '+1h', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    const normal = await replica({ args: election(id) });
    const skewed = await replica({ args: election(id), env: skew, standby: true });

    // 1. Its clock says the leader's renewTime is an hour old; the record keeps changing, so the lease is
    //    live: it waits, for twice the lease duration.
    await sleep(2 * leaseSeconds * 1000);
    assert.equal(await leads(skewed.operator), false, 'the skewed replica took a live lease');
    assert.match(await normal.operator.logs(), /"controllers started"/);
    assert.doesNotMatch(await normal.operator.logs(), /lost leadership/);

    // 2. The leader dies mid-burst: the skewed replica takes the lease once it stops changing.
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    await kill9(normal.operator);
    await assertMidBurst(s.ns, 'a');
    await waitFor(() => leads(skewed.operator), {
      timeoutMs: 30_000,
      describe: async () => `the skewed replica did not take over:\n${await skewed.operator.logs()}`,
    });
    const ahead = Date.parse((await leaseHolder(id)).renewTime ?? '') - Date.now();
    assert.ok(ahead > 3500_000 && ahead < 3700_000, `the skewed replica's renewTime is ${ahead} ms ahead, not 1 h`);
    await allReady(s.ns, burstSize, skewed.operator.logs);

    // 3. Now the skewed replica leads, writing renewTimes an hour ahead, and dies mid-burst: a replica
    //    with a true clock is not blinded by them for an hour.
    const successor = await replica({ args: election(id), standby: true });
    await burst(s, 'b');
    await firstCommitLanded(s.gitDir, 'b');
    await kill9(skewed.operator);
    await assertMidBurst(s.ns, 'b');
    await waitFor(() => leads(successor.operator), {
      timeoutMs: 30_000,
      describe: async () => `the replica with a true clock did not take over:\n${await successor.operator.logs()}`,
    });
    await allReady(s.ns, 2 * burstSize, successor.operator.logs);
    await assertExactlyOnePerExecution(s, 2 * burstSize);
    assert.equal((await leaseHolder(id)).leaseTransitions, 2);
  });

  it('the operator is killed (-9) mid-burst and restarted', async () => {
    const s = await scenario('fault-operator-kill');
    const first = await replica({ args: [] });
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    await kill9(first.operator);
    await assertMidBurst(s.ns, 'a');
    const restarted = await replica({ args: [], sidecar: first.sidecar });
    await allReady(s.ns, burstSize, restarted.operator.logs);
    await assertExactlyOnePerExecution(s, burstSize);
  });

  it('the sidecar is killed (-9) mid-burst and restarted: the operator reconnects', async () => {
    const s = await scenario('fault-sidecar-kill');
    const { sidecar, operator } = await replica({ args: [] });
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    await sidecar.kill();
    await assertMidBurst(s.ns, 'a');
    // The same socket and data directory, as a restarted container in the same pod has.
    const restarted = await startSidecar({ socketPath: sidecar.socketPath, dataDir: sidecar.dataDir });
    started.push(restarted);
    await allReady(s.ns, burstSize, operator.logs);
    await assertExactlyOnePerExecution(s, burstSize);
    assert.match(await operator.logs(), /SidecarUnavailable/, 'executions did fail while the sidecar was down');
  });

  /**
   * Holds pushes to one repository at the git server, as a slow network would, so that a fault finds
   * executions in flight (their sidecar calls waiting on the push).
   */
  /** The executions in flight, by resource: recorded in status before any side effect. */
  async function activeExecutions(ns: string): Promise<Map<string, string>> {
    const active = new Map<string, string>();
    for (const o of await gitCommits(ns)) {
      if (o.status?.activeExecution?.id) active.set(o.metadata.name, o.status.activeExecution.id);
    }
    return active;
  }

  /** Cancelled executions were continued under their ids; their pushes, landed meanwhile, were found. */
  async function assertContinued(ns: string, cancelled: Map<string, string>) {
    const byName = new Map((await gitCommits(ns)).map((o) => [o.metadata.name, o.status.executionHistory]));
    for (const [name, id] of cancelled) {
      assert.equal(byName.get(name)?.[0]?.id, id, `${name}: the execution cut short was continued`);
    }
    const found = [...cancelled.keys()].filter((name) =>
      /found from an earlier attempt/.test(byName.get(name)?.[0]?.message ?? ''),
    );
    assert.ok(found.length > 0, 'no cancelled execution had its landed push found by its trailer');
  }

  it('SIGTERM mid-burst: the operator cancels, releases the lease and exits at once; nothing is lost', async () => {
    const s = await scenario('fault-sigterm');
    const id = 'gco-fault-sigterm';
    const gate = pushGate(git, 'fault-sigterm.git');
    const first = await replica({ args: election(id) });
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    // Executions in flight, waiting on a push: a shutdown that waited for them would wait for the gate.
    gate.close();
    await waitFor(async () => gate.held() > 0, { timeoutMs: 30_000, describe: () => 'no push reached the server' });
    const exited = once(first.operator.process.child, 'exit');
    const sentAt = Date.now();
    first.operator.process.child.kill('SIGTERM');
    const [code] = (await exited) as [number];
    const tookMs = Date.now() - sentAt;
    // Exit code 0 with the pushes still held at the (closed) gate: the operator cancelled them. Waiting
    // for them would have run into its own shutdown bound (10 s, well under the pod's 120 s grace), which
    // exits 1.
    assert.equal(code, 0, await first.operator.logs());
    assert.doesNotMatch(await first.operator.logs(), /shutdown did not finish in time/);
    await assertMidBurst(s.ns, 'a');
    assert.equal((await leaseHolder(id)).holderIdentity ?? '', '', 'the lease was released');
    const cancelled = await activeExecutions(s.ns);
    assert.ok(cancelled.size > 0, 'no execution was in flight');
    process.stderr.write(`[figure] operator exit after SIGTERM with executions in flight: ${tookMs} ms\n`);
    // The sidecar's batch goes on and its push lands, after the operator has gone.
    gate.open();

    // A restarted operator takes the released lease at once and finishes the burst. Cancelled attempts
    // were not counted as failures: every execution took one attempt.
    const restarted = await replica({ args: election(id), sidecar: first.sidecar });
    await allReady(s.ns, burstSize, restarted.operator.logs);
    await assertExactlyOnePerExecution(s, burstSize);
    await assertContinued(s.ns, cancelled);
    const attempts = (await gitCommits(s.ns)).map((o) => o.status.executionHistory[0].attempts);
    assert.deepEqual(
      attempts.filter((a) => a !== 1),
      [],
      'a cancelled attempt was recorded as a failure',
    );
  });

  it('a leader that sees another holder aborts its work and exits 1 at once', async () => {
    const s = await scenario('fault-lease-lost');
    const id = 'gco-fault-lease-lost';
    const gate = pushGate(git, 'fault-lease-lost.git');
    const first = await replica({ args: election(id) });
    await burst(s, 'a');
    await firstCommitLanded(s.gitDir, 'a');
    gate.close();
    await waitFor(async () => gate.held() > 0, { timeoutMs: 30_000, describe: () => 'no push reached the server' });
    const exited = once(first.operator.process.child, 'exit');
    // Another holder, as a replica that judged the lease expired (a paused process, a partition) would be.
    for (;;) {
      const lease = JSON.parse(await kubectl(['get', 'lease', id, '-n', operatorNamespace, '-o', 'json']));
      lease.spec.holderIdentity = 'another-replica';
      lease.spec.leaseTransitions += 1;
      const replaced = await plane.kubectl(['replace', '-f', '-'], { input: JSON.stringify(lease) });
      if (replaced.code === 0) break;
      // A renewal came first: read again, as a competing replica would.
      assert.match(replaced.stderr, /Conflict/);
    }
    const [code] = (await exited) as [number];
    assert.equal(code, 1, await first.operator.logs());
    assert.match(await first.operator.logs(), /"reason":"AnotherHolder"/);
    assert.equal((await leaseHolder(id)).holderIdentity, 'another-replica', 'the lost lease was not written');
    const cancelled = await activeExecutions(s.ns);
    assert.ok(cancelled.size > 0, 'no execution was in flight');
    gate.open();

    // The other holder never renews: a new replica takes the lease once it has stood still for the lease
    // duration, and finishes the burst.
    const next = await replica({ args: election(id), sidecar: first.sidecar });
    await allReady(s.ns, burstSize, next.operator.logs);
    await assertExactlyOnePerExecution(s, burstSize);
    await assertContinued(s.ns, cancelled);
  });
});
