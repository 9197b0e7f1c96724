/**
 * The operator as it is lived in rather than in bursts: schedules that run for minutes, an API server
 * that restarts under load, a Secret watch that breaks while resources execute, tenants that try to
 * name other refs. Every fault ends with "every execution exactly one commit", checked by trailers.
 */
import assert from 'node:assert/strict';
import {
  assertExactlyOnce,
  commitsWithTrailers,
  installOperatorRbac,
  reportedExecutions,
  runOk,
  waitFor,
} from '@gco/testenv';
import {
  condition,
  type Environment,
  getStatus,
  operatorMetric,
  pushGate,
  stalledWith,
  startEnvironment,
  tokenSecret,
  waitReady,
  waitStatus,
} from '../support.ts';

const ns = 'lived-in';

describe('GitCommit controller: lived in (long schedules, faults, tenants)', function () {
  this.timeout(600_000);
  let env: Environment;
  let n = 0;

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    await env.plane.ensureNamespace(ns);
    await env.plane.ensureNamespace('lived-in-other');
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(() => env?.stop());

  const gitCommit = (name: string, url: string, spec: Record<string, unknown> = {}, namespace = ns) => ({
    apiVersion: 'gco.galos.one/v1',
    kind: 'GitCommit',
    metadata: { name, namespace },
    spec: {
      repository: { url, branch: 'main' },
      auth: { secretName: 'git-credentials' },
      commit: { author: 'Lived In <l@example.com>', message: `${name} at $(date +%s)` },
      files: [{ path: `${name}.txt`, content: `${name} $(date -u +%FT%TZ)\n` }],
      ...spec,
    },
  });

  /** Applies `count` GitCommits over the given repositories in one kubectl apply; returns their names. */
  async function burst(prefix: string, count: number, urls: string[], secretName = 'git-credentials') {
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    const docs = names.map((name, i) => gitCommit(name, urls[i % urls.length] as string, { auth: { secretName } }));
    await env.apply({ apiVersion: 'v1', kind: 'List', items: docs }, ns);
    return names;
  }

  async function allReady(names: string[]) {
    for (const name of names) await waitReady(env, 'gitcommit', name, ns, '180s');
  }

  /** Every execution of these resources made exactly one commit in these repositories. */
  async function assertEveryExecutionOneCommit(names: string[], gitDirs: string[]) {
    const commits = (await Promise.all(gitDirs.map(commitsWithTrailers))).flat();
    const json = await env.kubectl(['get', 'gitcommits', '-n', ns, '-o', 'json', ...names]);
    const reported = reportedExecutions(json);
    assert.equal(reported.length, names.length);
    assertExactlyOnce(commits, reported);
    return { commits, reported };
  }

  it('runs an @every 5s schedule for 2 minutes without losing a tick', async () => {
    const repo = await env.repository(`schedule-${n++}.git`);
    const name = 'every-5s';
    await env.apply(gitCommit(name, repo.url, { schedule: '@every 5s' }));
    await waitReady(env, 'gitcommit', name, ns);
    const started = Date.now();
    const windowMs = 120_000;
    // A fixed window: the ticks of two minutes are what this test counts.
    await new Promise((r) => setTimeout(r, windowMs));
    const status = await getStatus(env, 'gitcommit', name, ns);
    assert.equal(condition(status, 'Ready').status, 'True', JSON.stringify(status.conditions));
    // Each execution's file holds its instant: the gaps between consecutive commits are the ticks.
    const log = await runOk('git', [`--git-dir=${repo.gitDir}`, 'log', '--format=%B%x00', 'main', '--', `${name}.txt`]);
    const instants = log
      .split('\0')
      .map((m) => /at (\d+)/.exec(m)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    // Only the ticks after the first execution (Generation) was Ready.
    const inWindow = instants.filter((t) => t * 1000 > started);
    const expected = Math.floor(windowMs / 5000);
    assert.ok(
      inWindow.length >= expected - 1,
      `${inWindow.length} commits in ${windowMs / 1000}s of @every 5s (expected about ${expected})`,
    );
    // Gaps are whole seconds between execution instants: no tick twice (>= 4 s) and none lost (< 10 s).
    const gaps = inWindow.slice(1).map((t, i) => t - (inWindow[i] as number));
    assert.ok(
      gaps.every((g) => g >= 4 && g < 10),
      `every gap between ticks is about 5 s, never two ticks' worth: ${gaps.join(' ')}`,
    );
    // Every tick is one execution and one commit: the history (newest 10) matches the trailers.
    const { commits } = await assertEveryExecutionOneCommit([name], [repo.gitDir]);
    assert.equal(new Set(commits.map((c) => c.execution)).size, commits.length);
    assert.ok(
      status.executionHistory.every((h: { trigger: string }) => h.trigger === 'Schedule' || h.trigger === 'Generation'),
    );
    await env.kubectl(['delete', 'gitcommit', name, '-n', ns]);
  });

  it('stalls a schedule that can never run instead of reporting Ready', async () => {
    const repo = await env.repository(`schedule-${n++}.git`);
    // Every field is in range, so the CRD admits it, but February has no 31st.
    await env.apply(gitCommit('never-due', repo.url, { schedule: '0 0 31 2 *' }));
    const status = await waitStatus(env, 'gitcommit', 'never-due', stalledWith('InvalidSchedule'), ns);
    assert.equal(condition(status, 'Ready').status, 'False');
    assert.match(condition(status, 'Ready').message, /spec.schedule: .*no next run/);
    assert.equal(status.executionHistory, undefined, 'nothing ran');
    // Fixing the schedule (a new generation) lets it run.
    await env.kubectl([
      'patch',
      'gitcommit',
      'never-due',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"schedule":"@daily"}}',
    ]);
    await waitReady(env, 'gitcommit', 'never-due', ns);
    const after = await getStatus(env, 'gitcommit', 'never-due', ns);
    assert.ok(after.nextScheduledTime, 'the next tick is announced');
  });

  it("refuses branch names that shadow other refs, and another tenant's commits keep landing", async () => {
    const repo = await env.repository(`shared-${n++}.git`);
    await env.apply(tokenSecret('git-credentials', 'lived-in-other'));
    for (const branch of ['refs/heads/main', 'refs/tags/v1', 'HEAD', 'heads/main']) {
      const result = await env.plane.kubectl(['apply', '-n', 'lived-in-other', '-f', '-'], {
        input: JSON.stringify(
          gitCommit('shadow', repo.url, { repository: { url: repo.url, branch } }, 'lived-in-other'),
        ),
      });
      assert.notEqual(result.code, 0, `${branch} was admitted`);
      assert.match(result.stderr, /spec.repository.branch/, result.stderr);
    }
    const refs = await runOk('git', [`--git-dir=${repo.gitDir}`, 'for-each-ref', '--format=%(refname)']);
    assert.doesNotMatch(refs, /refs\/heads\/(refs|heads|HEAD)/);
    await env.apply(gitCommit('tenant-b', repo.url));
    await waitReady(env, 'gitcommit', 'tenant-b', ns);
    await assertEveryExecutionOneCommit(['tenant-b'], [repo.gitDir]);
  });

  it('API server restart mid-burst: every execution makes exactly one commit', async () => {
    const repos = await Promise.all([0, 1].map(() => env.repository(`restart-${n++}.git`)));
    const names = await burst(
      'restart',
      16,
      repos.map((r) => r.url),
    );
    await env.plane.restartApiServer({ downMs: 2000 });
    const more = await burst(
      'after-restart',
      4,
      repos.map((r) => r.url),
    );
    await allReady([...names, ...more]);
    const { reported } = await assertEveryExecutionOneCommit(
      [...names, ...more],
      repos.map((r) => r.gitDir),
    );
    for (const r of reported) assert.equal(r.history.length, 1, `${r.source}: one execution, not ${r.history.length}`);
  });

  it('Secret watch broken mid-burst: no execution for a Secret version already used, one for a real change', async () => {
    const repos = await Promise.all([0, 1].map(() => env.repository(`secret-watch-${n++}.git`)));
    const urls = repos.map((r) => r.url);
    // A canary resource whose Secret is rotated later tells when the operator's Secret cache is current.
    await env.apply(tokenSecret('canary-credentials', ns));
    const [canary] = await burst('canary', 1, urls, 'canary-credentials');
    await allReady([canary as string]);

    // Break the Secret watch: the operator may still GET Secrets, but not list or watch them, and the
    // API server restart ends the watch it has.
    const role = JSON.parse(await env.kubectl(['get', 'clusterrole', 'git-change-operator-manager', '-o', 'json']));
    for (const rule of role.rules) {
      if (rule.resources?.includes('secrets')) rule.verbs = ['get'];
    }
    delete role.metadata.resourceVersion;
    await env.kubectl(['replace', '-f', '-'], JSON.stringify(role));
    await env.plane.restartApiServer({ downMs: 500 });
    try {
      await env.apply(tokenSecret('burst-credentials', ns));
      const names = await burst('secret-burst', 12, urls, 'burst-credentials');
      await allReady(names);
    } finally {
      await installOperatorRbac(env.plane);
    }
    const names = Array.from({ length: 12 }, (_, i) => `secret-burst-${i}`);

    // Once the canary's rotation is acted on, the Secret cache has caught up with everything before it.
    await rotate('canary-credentials');
    await waitStatus(
      env,
      'gitcommit',
      canary as string,
      (s) => s.executionHistory?.[0]?.trigger === 'SecretChanged' && !s.activeExecution,
      ns,
      120_000,
    );
    // The burst's resources were queued by the same catch-up; let the queue drain before looking.
    await waitFor(async () => (await operatorMetric(env, 'gco_workqueue_depth', { name: 'gitcommit' })) === 0, {
      timeoutMs: 30_000,
      describe: () => 'the gitcommit work queue never drained',
    });
    for (const name of names) {
      const s = await getStatus(env, 'gitcommit', name, ns);
      assert.equal(s.activeExecution ?? undefined, undefined, `${name}: no execution started`);
      assert.deepEqual(
        s.executionHistory.map((h: { trigger: string }) => h.trigger),
        ['Generation'],
        `${name}: the Secret version it used arrived late in the cache; that is no change`,
      );
    }
    // A real change of the Secret: exactly one execution each.
    await rotate('burst-credentials');
    for (const name of names) {
      await waitStatus(
        env,
        'gitcommit',
        name,
        (s) => s.executionHistory?.length >= 2 && !s.activeExecution,
        ns,
        120_000,
      );
    }
    const { reported } = await assertEveryExecutionOneCommit(
      names,
      repos.map((r) => r.gitDir),
    );
    for (const r of reported) {
      assert.deepEqual(
        r.history.map((h) => h.trigger),
        ['SecretChanged', 'Generation'],
        r.source,
      );
    }
  });

  it('a Secret rotated while an execution runs starts exactly one more execution, with the new version', async () => {
    const repo = await env.repository(`rotate-during-${n++}.git`);
    await env.apply(tokenSecret('rotating-credentials', ns));
    // A canary whose own Secret is rotated after that one: once the canary has run for its rotation, the
    // operator's Secret cache holds the earlier rotation too (one watch delivers both, in order).
    const canaryRepo = await env.repository(`rotate-canary-${n++}.git`);
    await env.apply(tokenSecret('rotation-canary-credentials', ns));
    await env.apply(
      gitCommit('rotation-canary', canaryRepo.url, { auth: { secretName: 'rotation-canary-credentials' } }),
    );
    await waitReady(env, 'gitcommit', 'rotation-canary', ns);
    const gate = pushGate(env.git, repo.gitDir.split('/').at(-1) as string);
    gate.close();
    try {
      await env.apply(gitCommit('rotated-during', repo.url, { auth: { secretName: 'rotating-credentials' } }));
      await waitFor(async () => gate.held() > 0, { timeoutMs: 30_000, describe: () => 'no push reached the server' });
      await rotate('rotating-credentials');
      const rotated = JSON.parse(await env.kubectl(['get', 'secret', 'rotating-credentials', '-n', ns, '-o', 'json']));
      // The rotation reaches the operator's cache while the execution waits on its push.
      await rotate('rotation-canary-credentials');
      await waitStatus(
        env,
        'gitcommit',
        'rotation-canary',
        (s) => s.executionHistory?.[0]?.trigger === 'SecretChanged' && !s.activeExecution,
        ns,
      );
      gate.open();
      const status = await waitStatus(
        env,
        'gitcommit',
        'rotated-during',
        (s) => s.executionHistory?.length >= 2 && !s.activeExecution,
        ns,
        60_000,
      );
      assert.deepEqual(
        status.executionHistory.map((h: { trigger: string }) => h.trigger),
        ['SecretChanged', 'Generation'],
      );
      assert.equal(status.authSecretResourceVersion, rotated.metadata.resourceVersion);
      await assertEveryExecutionOneCommit(['rotated-during'], [repo.gitDir]);
    } finally {
      gate.open();
    }
  });

  it('an execution that stalls before reading its Secret records the version in force: a later reconcile starts nothing', async () => {
    const repo = await env.repository(`early-stall-${n++}.git`);
    await env.apply({
      ...gitCommit('early-stall', repo.url),
      metadata: { name: 'early-stall', namespace: ns, annotations: { 'gco.galos.one/retry-policy': 'sometimes' } },
    });
    const stalled = await waitStatus(env, 'gitcommit', 'early-stall', stalledWith('InvalidAnnotation'), ns);
    const secret = JSON.parse(await env.kubectl(['get', 'secret', 'git-credentials', '-n', ns, '-o', 'json']));
    assert.equal(stalled.authSecretResourceVersion, secret.metadata.resourceVersion);
    // A label change wakes the resource (a resync would too): nothing is due.
    const before = await operatorMetric(env, 'gco_reconcile_total', { controller: 'gitcommit' });
    await env.kubectl(['label', 'gitcommit', 'early-stall', '-n', ns, 'woken=yes']);
    await waitFor(
      async () =>
        (await operatorMetric(env, 'gco_reconcile_total', { controller: 'gitcommit' })) > before &&
        (await operatorMetric(env, 'gco_workqueue_depth', { name: 'gitcommit' })) === 0,
      { timeoutMs: 30_000, describe: () => 'the label change was not reconciled' },
    );
    const after = await getStatus(env, 'gitcommit', 'early-stall', ns);
    assert.equal(after.executionHistory.length, 1, JSON.stringify(after.executionHistory));
    assert.equal(after.activeExecution ?? undefined, undefined);
  });

  /** Changes a token Secret's content (same token, an explicit username), as a rotation does. */
  async function rotate(secret: string) {
    await env.kubectl([
      'patch',
      'secret',
      secret,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ stringData: { username: `x-access-token`, rotated: String(Date.now()) } }),
    ]);
  }
});
