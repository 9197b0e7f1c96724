import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitCount, createBareRepository, createTestCertificates, fileAt, GitHttpServer, runOk } from '@gco/testenv';
import {
  condition,
  type Environment,
  getStatus,
  requestReconcile,
  retryingWith,
  stalledWith,
  startEnvironment,
  token,
  tokenSecret,
  waitReady,
  waitStatus,
} from '../support.ts';

const ns = 'gc-behaviour';

describe('GitCommit controller: behaviour', function () {
  this.timeout(300_000);
  let env: Environment;
  let n = 0;

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    await env.plane.ensureNamespace(ns);
    await env.plane.ensureNamespace('elsewhere');
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(() => env?.stop());

  async function gitCommit(
    spec: Record<string, unknown>,
    opts: { annotations?: Record<string, string>; repo?: string } = {},
  ) {
    const name = `gc-${n++}`;
    const repo = await env.repository(opts.repo ?? `${name}.git`, { files: 2 });
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns, annotations: opts.annotations },
      spec: {
        repository: { url: repo.url, branch: 'main' },
        auth: { secretName: 'git-credentials' },
        commit: { author: 'Behaviour <b@example.com>', message: 'test' },
        ...spec,
      },
    });
    return { name, ...repo };
  }

  it('makes no commit when an execution finds nothing changed (reconcile-requested-at)', async () => {
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'stable', namespace: ns },
      data: { k: 'v' },
    });
    const gc = await gitCommit({
      resourceReferences: [
        { name: 'stable', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'dump', output: { path: 'stable.yaml' } },
      ],
    });
    await waitReady(env, 'gitcommit', gc.name, ns);
    const commits = await commitCount(gc.gitDir, 'main');
    await requestReconcile(env, 'gitcommit', gc.name, ns, 'now-1');
    const status = await waitStatus(
      env,
      'gitcommit',
      gc.name,
      (s) => s.lastHandledReconcileAt === 'now-1' && !s.activeExecution,
      ns,
    );
    assert.equal(condition(status, 'Ready').reason, 'UpToDate');
    assert.equal(status.executionHistory.length, 2);
    assert.equal(status.executionHistory[0].trigger, 'Request');
    assert.equal(await commitCount(gc.gitDir, 'main'), commits, 'no second commit');
  });

  it('continues an interrupted execution exactly once (its commit already landed)', async () => {
    const gc = await gitCommit({ files: [{ path: 'once.log', content: 'line\n', writeMode: 'append' }] });
    await waitReady(env, 'gitcommit', gc.name, ns);
    const status = await getStatus(env, 'gitcommit', gc.name, ns);
    const last = status.executionHistory[0];
    // As if the operator died after the push but before it recorded the outcome: the execution is
    // still active in status. Continuing it must find its commit, not append again.
    await env.kubectl([
      'patch',
      'gitcommit',
      gc.name,
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          activeExecution: { id: last.id, trigger: 'Generation', instant: last.startTime, attempts: 1, generation: 1 },
        },
      }),
    ]);
    await env.kubectl(['annotate', '--overwrite', '-n', ns, `gitcommit/${gc.name}`, 'gco.galos.one/nudge=1']);
    const after = await waitStatus(
      env,
      'gitcommit',
      gc.name,
      (s) => !s.activeExecution && s.executionHistory.length === 2,
      ns,
    );
    assert.equal(after.commitSHA, status.commitSHA);
    assert.equal(await fileAt(gc.gitDir, 'main', 'once.log'), 'line\n');
  });

  it('stalls on a template error, naming the field, with nothing written', async () => {
    const gc = await gitCommit({ files: [{ path: 'x.txt', content: 'at $(date +%Q)' }] });
    const status = await waitStatus(env, 'gitcommit', gc.name, stalledWith('TemplateError'), ns);
    assert.match(condition(status, 'Stalled').message, /spec\.files\[0\]\.content: unknown conversion '%Q'/);
    assert.equal(status.phase, 'Failed');
    assert.equal(await commitCount(gc.gitDir, 'main'), 1);
    const events = await env.kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${gc.name}`,
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    assert.match(events, /TemplateError/);
  });

  it('retries an unknown kind, saying which', async () => {
    const gc = await gitCommit({
      resourceReferences: [
        { name: 'x', apiVersion: 'example.com/v1', kind: 'Nope', strategy: 'dump', output: { path: 'x.yaml' } },
      ],
    });
    const status = await waitStatus(env, 'gitcommit', gc.name, retryingWith('KindNotFound'), ns);
    assert.match(status.message, /no kind Nope in example.com\/v1/);
  });

  it('refuses a reference to another namespace unless trusted or impersonating, saying how to allow it', async () => {
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'other', namespace: 'elsewhere' },
      data: { a: 'b' },
    });
    const gc = await gitCommit({
      resourceReferences: [
        {
          name: 'other',
          namespace: 'elsewhere',
          apiVersion: 'v1',
          kind: 'ConfigMap',
          strategy: 'dump',
          output: { path: 'o.yaml' },
        },
      ],
    });
    const status = await waitStatus(env, 'gitcommit', gc.name, stalledWith('NamespaceNotAllowed'), ns);
    assert.match(condition(status, 'Stalled').message, /serviceAccountName|--trusted-namespaces=gc-behaviour/);
  });

  it('reads as spec.serviceAccountName, whose RBAC decides', async () => {
    const { kubeConfig: _unused } = await env.plane.serviceAccountKubeConfig(ns, 'exporter');
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'granted', namespace: 'elsewhere' },
      data: { a: 'granted' },
    });
    const gc = await gitCommit({
      serviceAccountName: 'exporter',
      resourceReferences: [
        {
          name: 'granted',
          namespace: 'elsewhere',
          apiVersion: 'v1',
          kind: 'ConfigMap',
          strategy: 'single-field',
          field: 'a',
          output: { path: 'g.txt' },
        },
      ],
    });
    const denied = await waitStatus(env, 'gitcommit', gc.name, stalledWith('ReferenceForbidden'), ns);
    assert.match(
      condition(denied, 'Stalled').message,
      /ServiceAccount gc-behaviour\/exporter may not read ConfigMap elsewhere\/granted/,
    );
    await env.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'read-granted', namespace: 'elsewhere' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['granted'], verbs: ['get'] }],
    });
    await env.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'read-granted', namespace: 'elsewhere' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-granted' },
      subjects: [{ kind: 'ServiceAccount', name: 'exporter', namespace: ns }],
    });
    await requestReconcile(env, 'gitcommit', gc.name, ns, 'after-grant');
    await waitReady(env, 'gitcommit', gc.name, ns);
    assert.equal(await fileAt(gc.gitDir, 'main', 'g.txt'), 'granted');
  });

  it('refuses to dump a Secret', async () => {
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: ns },
      stringData: { password: 'hunter2-db' },
    });
    const gc = await gitCommit({
      resourceReferences: [
        { name: 'db', apiVersion: 'v1', kind: 'Secret', strategy: 'dump', output: { path: 'db.yaml' } },
      ],
    });
    await waitStatus(env, 'gitcommit', gc.name, stalledWith('SecretExportForbidden'), ns);
  });

  it('retries while the auth Secret is missing, and commits once it exists', async () => {
    const gc = await gitCommit({
      auth: { secretName: 'late-credentials' },
      files: [{ path: 'late.txt', content: 'late' }],
    });
    const status = await waitStatus(env, 'gitcommit', gc.name, retryingWith('SecretNotFound'), ns);
    assert.match(status.message, /Secret gc-behaviour\/late-credentials does not exist/);
    await env.apply(tokenSecret('late-credentials', ns));
    await waitReady(env, 'gitcommit', gc.name, ns);
    assert.equal(await fileAt(gc.gitDir, 'main', 'late.txt'), 'late');
  });

  it('stalls on rejected credentials, and runs again when the Secret is fixed', async () => {
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-credentials', namespace: ns },
      stringData: { token: 'ghp_wrong_wrong_wrong' },
    });
    const gc = await gitCommit({
      auth: { secretName: 'wrong-credentials' },
      files: [{ path: 'fixed.txt', content: 'fixed' }],
    });
    const stalled = await waitStatus(env, 'gitcommit', gc.name, stalledWith('AuthenticationFailed'), ns);
    // Which host refused which Secret's token, and what to do: not git's "could not read Username".
    const said = `${new URL(gc.url).host} rejected the token of Secret ${ns}/wrong-credentials for ${gc.url} (HTTP 401): replace it with a valid token that may push to this repository`;
    assert.equal(condition(stalled, 'Stalled').message, said);
    assert.equal(stalled.message, said);
    const events = JSON.parse(
      await env.kubectl([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `involvedObject.name=${gc.name}`,
        '-o',
        'json',
      ]),
    ).items;
    assert.ok(
      events.some((e: any) => e.type === 'Warning' && e.reason === 'AuthenticationFailed' && e.message === said),
      JSON.stringify(events.map((e: any) => [e.type, e.reason, e.message])),
    );
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-credentials', namespace: ns },
      stringData: { token },
    });
    await waitReady(env, 'gitcommit', gc.name, ns);
    const status = await getStatus(env, 'gitcommit', gc.name, ns);
    assert.equal(status.executionHistory[0].trigger, 'SecretChanged');
    assert.equal(await fileAt(gc.gitDir, 'main', 'fixed.txt'), 'fixed');
  });

  it("trusts a private CA from the Secret's ca.crt; without it, stalls with CertificateRejected", async () => {
    const certs = await createTestCertificates();
    const tls = await new GitHttpServer({
      root: join(env.root, 'tls-repos'),
      auth: { tokens: [token] },
      tls: { key: certs.serverKey, cert: certs.serverCert },
    }).start();
    try {
      await createBareRepository(join(env.root, 'tls-repos/private.git'), { files: 1 });
      const secret = (name: string, data: Record<string, string>) =>
        env.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: data });
      await secret('private-ca', { token, 'ca.crt': certs.caCert });
      await secret('no-ca', { token });
      const commitTo = (name: string, secretName: string) =>
        env.apply({
          apiVersion: 'gco.galos.one/v1',
          kind: 'GitCommit',
          metadata: { name, namespace: ns },
          spec: {
            repository: { url: tls.url('private.git'), branch: 'main' },
            auth: { secretName },
            commit: { author: 'Behaviour <b@example.com>', message: name },
            files: [{ path: `${name}.txt`, content: 'over https\n' }],
          },
        });
      await commitTo('tls-trusted', 'private-ca');
      await commitTo('tls-untrusted', 'no-ca');
      await waitReady(env, 'gitcommit', 'tls-trusted', ns);
      assert.equal(await fileAt(join(env.root, 'tls-repos/private.git'), 'main', 'tls-trusted.txt'), 'over https\n');
      const stalled = await waitStatus(env, 'gitcommit', 'tls-untrusted', stalledWith('CertificateRejected'), ns);
      assert.match(
        stalled.message,
        /TLS certificate is not trusted \(.*\): if the server uses a private CA, add the CA's PEM bundle as ca\.crt to Secret gc-behaviour\/no-ca;/,
      );
      assert.equal(await fileAt(join(env.root, 'tls-repos/private.git'), 'main', 'tls-untrusted.txt'), undefined);
    } finally {
      await tls.stop();
    }
  });

  it('stalls on a repository that does not exist', async () => {
    const name = `gc-${n++}`;
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: env.git.url('nobody/nothing.git') },
        auth: { secretName: 'git-credentials' },
        commit: { message: 'x' },
        files: [{ path: 'x', content: 'x' }],
      },
    });
    const status = await waitStatus(env, 'gitcommit', name, stalledWith('RepositoryNotFound'), ns);
    const url = env.git.url('nobody/nothing.git');
    assert.equal(
      status.message,
      `${new URL(url).host} has no repository ${url}, or the credentials of Secret ${ns}/git-credentials may not see it (HTTP 404): check the URL, and that the credentials may read this repository`,
    );
  });

  /** A GitCommit whose every attempt fails with a transient ResourceNotFound (a ConfigMap nobody makes). */
  const failingEveryAttempt = (annotations: Record<string, string>) =>
    gitCommit(
      {
        resourceReferences: [
          { name: 'never', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'dump', output: { path: 'n.yaml' } },
        ],
      },
      { annotations },
    );

  /** The messages of the Warning Events about a resource (each once, however often it was counted). */
  async function warnings(name: string): Promise<string[]> {
    const out = await env.kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${name},type=Warning`,
      '-o',
      'json',
    ]);
    return (JSON.parse(out) as { items: Array<{ message: string }> }).items.map((e) => e.message);
  }

  it('retry-policy none: stalls at the first transient failure with RetriesExhausted', async () => {
    const gc = await failingEveryAttempt({ 'gco.galos.one/retry-policy': 'none' });
    const status = await waitStatus(env, 'gitcommit', gc.name, stalledWith('RetriesExhausted'), ns);
    assert.match(condition(status, 'Stalled').message, /^gave up after 1 attempt\(s\) \(none\): ResourceNotFound: /);
    assert.equal(status.executionHistory[0].attempts, 1);
    assert.equal(status.retryCount, 0);
  });

  it('max-retries with exponential backoff: retried after 5 s and 10 s, then RetriesExhausted', async () => {
    // The default policy's own delays, waited out for real: 15 s.
    const gc = await failingEveryAttempt({ 'gco.galos.one/max-retries': '2' });
    const status = await waitStatus(env, 'gitcommit', gc.name, stalledWith('RetriesExhausted'), ns, 90_000);
    assert.match(
      condition(status, 'Stalled').message,
      /^gave up after 3 attempt\(s\) \(exponential-backoff, max-retries 2\): ResourceNotFound: .*ConfigMap gc-behaviour\/never does not exist/,
    );
    assert.equal(condition(status, 'Ready').reason, 'RetriesExhausted');
    assert.equal(status.phase, 'Failed');
    assert.equal(status.retryCount, 2);
    assert.equal(status.activeExecution ?? undefined, undefined);
    assert.deepEqual(
      [status.executionHistory.length, status.executionHistory[0].attempts, status.executionHistory[0].result],
      [1, 3, 'Failed'],
    );
    const events = await warnings(gc.name);
    for (const delay of ['5s', '10s']) {
      assert.ok(
        events.some((m) => m.endsWith(`; retrying in ${delay}`)),
        `an Event says retrying in ${delay}: ${events}`,
      );
    }
    assert.ok(!events.some((m) => m.endsWith('; retrying in 20s')), 'no third retry');
  });

  it('retry-policy fixed: each retry scheduled 30 s after its failure, then RetriesExhausted after max-retries', async () => {
    // The 30 s waits are not waited out: each is checked where the operator keeps it
    // (status.activeExecution.notBefore, the Ready message, the Event), then brought forward in status,
    // as if the 30 s had passed: the operator reads a retry's time from there (also after a restart).
    const startedAt = Date.now();
    const gc = await failingEveryAttempt({ 'gco.galos.one/retry-policy': 'fixed', 'gco.galos.one/max-retries': '2' });
    let attemptFrom = startedAt;
    for (const retry of [1, 2]) {
      const status = await waitStatus(
        env,
        'gitcommit',
        gc.name,
        (s) => s.retryCount === retry && s.activeExecution?.notBefore,
        ns,
      );
      const seenAt = Date.now();
      assert.equal(condition(status, 'Ready').reason, 'ResourceNotFound');
      assert.match(condition(status, 'Ready').message, new RegExp(`\\(retry ${retry} in 30s\\)$`));
      assert.equal(condition(status, 'Stalled').status, 'False');
      // The attempt failed between attemptFrom and seenAt; notBefore is 30 s after it, in whole seconds.
      const notBefore = Date.parse(status.activeExecution.notBefore);
      assert.ok(
        notBefore >= attemptFrom + 29_000 && notBefore <= seenAt + 30_000,
        `retry ${retry} at ${status.activeExecution.notBefore}, not 30 s after an attempt between ` +
          `${new Date(attemptFrom).toISOString()} and ${new Date(seenAt).toISOString()}`,
      );
      attemptFrom = Date.now();
      await env.kubectl([
        'patch',
        'gitcommit',
        gc.name,
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { activeExecution: { notBefore: new Date(attemptFrom - 1000).toISOString() } } }),
      ]);
      // A status change alone wakes no controller (as in controller-runtime's predicates); an annotation does.
      await env.kubectl(['annotate', '--overwrite', '-n', ns, `gitcommit/${gc.name}`, `gco.galos.one/nudge=${retry}`]);
    }
    const stalled = await waitStatus(env, 'gitcommit', gc.name, stalledWith('RetriesExhausted'), ns);
    assert.match(
      condition(stalled, 'Stalled').message,
      /^gave up after 3 attempt\(s\) \(fixed, max-retries 2\): ResourceNotFound: /,
    );
    assert.equal(stalled.executionHistory[0].attempts, 3);
    assert.equal(stalled.retryCount, 2);
    const events = await warnings(gc.name);
    assert.ok(
      events.some((m) => m.endsWith('; retrying in 30s')),
      `an Event says retrying in 30s: ${events}`,
    );
    assert.ok(!events.some((m) => /retrying in (?!30s)/.test(m)), `no other delay: ${events}`);
  });

  it('reports optional references that are missing and commits the rest', async () => {
    const gc = await gitCommit({
      files: [{ path: 'present.txt', content: 'p' }],
      resourceReferences: [
        {
          name: 'absent',
          apiVersion: 'v1',
          kind: 'ConfigMap',
          optional: true,
          strategy: 'dump',
          output: { path: 'a.yaml' },
        },
      ],
    });
    await waitReady(env, 'gitcommit', gc.name, ns);
    const status = await getStatus(env, 'gitcommit', gc.name, ns);
    assert.deepEqual(
      status.skippedReferences.map((s: any) => [s.name, s.reason]),
      [['absent', 'ResourceNotFound']],
    );
  });

  it('exports a cluster-scoped kind and a Deployment field', async () => {
    await env.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
        },
      },
    });
    const gc = await gitCommit({
      resourceReferences: [
        {
          name: 'web',
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          strategy: 'single-field',
          field: 'spec.template.spec.containers.0.image',
          output: { path: 'image.txt' },
        },
        {
          name: 'git-change-operator-reader-defaults',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          strategy: 'dump',
          output: { path: 'role.json' },
        },
      ],
    });
    // ClusterRoles are not among the default readable kinds: grant them as users do, with a labelled ClusterRole.
    await env.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'gco-read-clusterroles', labels: { 'gco.galos.one/aggregate-to-reader': 'true' } },
      rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['get'] }],
    });
    const { aggregateClusterRoles } = await import('@gco/testenv');
    await aggregateClusterRoles(env.plane);
    await requestReconcile(env, 'gitcommit', gc.name, ns, 'granted');
    await waitReady(env, 'gitcommit', gc.name, ns);
    assert.equal(await fileAt(gc.gitDir, 'main', 'image.txt'), 'nginx:1.27');
    const role = JSON.parse((await fileAt(gc.gitDir, 'main', 'role.json')) ?? '{}');
    assert.equal(role.kind, 'ClusterRole');
    assert.ok(!('namespace' in role.metadata));
  });

  it('writes binaryData as raw bytes and appends onto a file already in the repository', async () => {
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'binary', namespace: ns },
      binaryData: { 'blob.bin': Buffer.from([0, 1, 2, 255]).toString('base64') },
      data: { 'note.txt': 'appended' },
    });
    const gc = await gitCommit({
      resourceReferences: [
        { name: 'binary', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'fields', output: { path: 'bin' } },
        {
          name: 'binary',
          apiVersion: 'v1',
          kind: 'ConfigMap',
          strategy: 'single-field',
          field: 'note.txt',
          writeMode: 'append',
          output: { path: 'data/d00000/f0000000.txt' },
        },
      ],
    });
    await waitReady(env, 'gitcommit', gc.name, ns);
    // The blob's id is the hash of exactly these four bytes.
    const bytes = Buffer.from([0, 1, 2, 255]);
    const expected = createHash('sha1')
      .update(Buffer.concat([Buffer.from('blob 4\0'), bytes]))
      .digest('hex');
    assert.equal((await runOk('git', ['--git-dir', gc.gitDir, 'rev-parse', 'main:bin/blob.bin'])).trim(), expected);
    assert.match(
      (await fileAt(gc.gitDir, 'main', 'data/d00000/f0000000.txt')) ?? '',
      /^file 0 revision 0\n[a-z]*\nappended$/,
    );
  });

  it('stalls with PathConflict when two entries overwrite one path', async () => {
    const gc = await gitCommit({
      files: [
        { path: 'same.txt', content: 'a' },
        { path: 'same.txt', content: 'b' },
      ],
    });
    const status = await waitStatus(env, 'gitcommit', gc.name, stalledWith('PathConflict'), ns);
    assert.match(condition(status, 'Stalled').message, /2 entries write 'same.txt'/);
    assert.equal(await commitCount(gc.gitDir, 'main'), 1);
  });

  it('runs on a schedule, and not while suspended', async () => {
    const gc = await gitCommit({
      schedule: '@every 5s',
      files: [{ path: 'tick.log', content: '$(date +%s)\n', writeMode: 'append' }],
    });
    const status = await waitStatus(
      env,
      'gitcommit',
      gc.name,
      (s) => (s.executionHistory ?? []).filter((e: any) => e.trigger === 'Schedule').length >= 2,
      ns,
      30_000,
    );
    assert.ok(status.nextScheduledTime);
    await env.kubectl(['patch', 'gitcommit', gc.name, '-n', ns, '--type=merge', '-p', '{"spec":{"suspend":true}}']);
    // An execution recorded before the patch may still be running: it finishes. None starts after it: the
    // status write that starts one carries the resourceVersion it read, which the patch has changed.
    const settled = await waitStatus(env, 'gitcommit', gc.name, (s) => !s.activeExecution, ns);
    const before = settled.executionHistory.length;
    // A fixed window, as proving that nothing happens needs one: longer than a period, a tick would have come.
    await new Promise((r) => setTimeout(r, 6000));
    const after = (await getStatus(env, 'gitcommit', gc.name, ns)).executionHistory.length;
    assert.equal(after, before, 'no execution while suspended');
  });

  it('never puts a credential in status, events or logs', async () => {
    // Its own credentials and failures, whatever else ran before it: a token that commits, one the git
    // server rejects, and a Secret whose dump is refused.
    const rejected = 'ghp_rejected_never_shown_4711';
    const dbPassword = 'hunter2-never-shown';
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rejected-token', namespace: ns },
      stringData: { token: rejected },
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-password', namespace: ns },
      stringData: { password: dbPassword },
    });
    const committed = await gitCommit({ files: [{ path: 'ok.txt', content: 'ok' }] });
    const refused = await gitCommit({ auth: { secretName: 'rejected-token' }, files: [{ path: 'x', content: 'x' }] });
    const dumped = await gitCommit({
      resourceReferences: [
        { name: 'db-password', apiVersion: 'v1', kind: 'Secret', strategy: 'dump', output: { path: 'db.yaml' } },
      ],
    });
    await waitReady(env, 'gitcommit', committed.name, ns);
    await waitStatus(env, 'gitcommit', refused.name, stalledWith('AuthenticationFailed'), ns);
    await waitStatus(env, 'gitcommit', dumped.name, stalledWith('SecretExportForbidden'), ns);

    const statuses = await env.kubectl(['get', 'gitcommits', '-A', '-o', 'json']);
    const events = await env.kubectl(['get', 'events', '-A', '-o', 'json']);
    const logs = `${await env.operator.logs()}${await env.sidecar.logs()}`;
    assert.match(logs, /AuthenticationFailed|AUTHENTICATION_REJECTED/, 'the rejection is in the logs');
    for (const secret of [token, Buffer.from(`x-access-token:${token}`).toString('base64'), rejected, dbPassword]) {
      assert.ok(!statuses.includes(secret), `${secret.slice(0, 6)}… in a status`);
      assert.ok(!events.includes(secret), `${secret.slice(0, 6)}… in an Event`);
      assert.ok(!logs.includes(secret), `${secret.slice(0, 6)}… in the logs`);
    }
    const files = await readdir(env.sidecar.dataDir, { recursive: true });
    assert.ok(files.length > 0, 'the sidecar kept its clones');
    for (const f of files) {
      const path = join(env.sidecar.dataDir, String(f));
      const content = await readFile(path).catch(() => undefined);
      if (content) {
        for (const secret of [token, rejected])
          assert.ok(!content.includes(secret), `${secret.slice(0, 6)}… in ${path}`);
      }
    }
  });
});
