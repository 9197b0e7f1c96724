/**
 * The operator after a quiet minute: its watches are still live, so a change is acted on at once, not
 * after a reconnection and its backoff. The one wall-clock bound of the suite (issue 11): 2 s.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@gco/common/logger';
import { operatorNamespace, waitFor } from '@gco/testenv';
import { clusterAuthOf } from '../../src/runtime/cluster-auth.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject, ResourceType } from '../../src/runtime/resources.ts';
import { type Environment, startEnvironment, tokenSecret, waitReady } from '../support.ts';

const gitCommits: ResourceType = {
  group: 'gco.galos.one',
  version: 'v1',
  kind: 'GitCommit',
  plural: 'gitcommits',
  namespaced: true,
};
const requestedAt = 'gco.galos.one/reconcile-requested-at';

type GitCommit = KubeObject & {
  status?: {
    lastHandledReconcileAt?: string;
    conditions?: Array<{ type: string; status: string }>;
    executionHistory?: Array<{ trigger?: string; result: string }>;
  };
};

const ready = (gc: GitCommit | undefined) =>
  gc?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The operator's watch restarts by reason, from its /metrics. */
async function watchRestarts(env: Environment): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${env.operator.metricsPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^gco_informer_watch_restarts_total\{[^}]*reason="(\w+)"[^}]*\} (\S+)$/gm)) {
    const reason = m[1] ?? '';
    counts[reason] = (counts[reason] ?? 0) + Number(m[2]);
  }
  return counts;
}

describe('operator: after a quiet minute', function () {
  this.timeout(300_000);
  let env: Environment;
  const ns = operatorNamespace;

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(() => env?.stop());

  it('a new GitCommit is Ready, and a reconcile request acted on, within 2 s of a 60 s idle', async () => {
    const repo = await env.repository('idle.git');
    const gitCommit = (name: string) => ({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name, namespace: ns },
      spec: {
        repository: { url: repo.url, branch: 'main' },
        auth: { secretName: 'git-credentials' },
        commit: { author: 'Idle Test <idle@example.com>', message: `${name} $(date +%s)` },
        files: [{ path: `${name}.txt`, content: `${name}\n` }],
      },
    });
    await env.apply(gitCommit('idle-first'));
    await waitReady(env, 'gitcommit', 'idle-first');
    const before = await watchRestarts(env);

    await sleep(60_000);

    // Watched from this process, so the measurement holds no kubectl start-up.
    const client = new KubeClient(clusterAuthOf(env.plane.admin()));
    const watched = new Informer<GitCommit>(client, gitCommits, { namespace: ns, logger: silentLogger });
    await watched.start();
    try {
      const started = Date.now();
      const done: { 'idle-first'?: number; 'idle-second'?: number } = {};
      watched.onChange((_type, gc) => {
        const name = gc.metadata.name;
        if (name === 'idle-second' && done[name] === undefined && ready(gc)) done[name] = Date.now() - started;
        if (
          name === 'idle-first' &&
          done[name] === undefined &&
          gc.status?.lastHandledReconcileAt === 'after-idle' &&
          gc.status.executionHistory?.[0]?.trigger === 'Request' &&
          ready(gc)
        )
          done[name] = Date.now() - started;
      });
      await Promise.all([
        client.request('POST', `/apis/gco.galos.one/v1/namespaces/${ns}/gitcommits`, {
          body: gitCommit('idle-second'),
        }),
        client.request('PATCH', `/apis/gco.galos.one/v1/namespaces/${ns}/gitcommits/idle-first`, {
          body: { metadata: { annotations: { [requestedAt]: 'after-idle' } } },
          contentType: 'application/merge-patch+json',
        }),
      ]);
      // The bound of the test's wait is generous; the assertion below is the 2 s.
      await waitFor(async () => done['idle-second'] !== undefined && done['idle-first'] !== undefined, {
        timeoutMs: 60_000,
        describe: async () => `not done: ${JSON.stringify(done)}\n${(await env.operator.logs()).slice(-3000)}`,
      });
      const { 'idle-first': requested = Infinity, 'idle-second': created = Infinity } = done;
      process.stderr.write(
        `[figure] after a 60 s idle: new GitCommit Ready in ${created} ms, request done in ${requested} ms\n`,
      );
      assert.ok(created < 2000, `new GitCommit Ready after ${created} ms`);
      assert.ok(requested < 2000, `reconcile request acted on after ${requested} ms`);
      assert.deepEqual(await watchRestarts(env), before, 'no watch of the operator restarted while idle');
    } finally {
      watched.stop();
    }
  });
});
