import assert from 'node:assert/strict';
import { runOk, sharedControlPlane, waitFor } from '@gco/testenv';
import { type Environment, startEnvironment, tokenSecret, waitReady } from '../support.ts';

const ns = 'gc-resync';

/** The sum of a metric's samples whose labels include `labels`, from a Prometheus text exposition. */
function total(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$/.exec(line);
    if (m?.[1] === name && Object.entries(labels).every(([k, v]) => m[2]?.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

describe('operator: periodic resync', function () {
  this.timeout(180_000);
  let env: Environment;

  before(async function () {
    this.timeout(180_000);
    await (await sharedControlPlane()).ensureNamespace(ns);
    env = await startEnvironment({ operatorArgs: ['--resync-period=1s', `--namespaces=${ns}`] });
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(async () => {
    await env?.stop();
  });

  it('--resync-period reconciles every resource again though nothing changed, and commits nothing more', async () => {
    const repo = await env.repository('resync.git', { files: 2 });
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name: 'resynced', namespace: ns },
      spec: {
        repository: { url: repo.url, branch: 'main' },
        auth: { secretName: 'git-credentials' },
        commit: { message: 'once' },
        files: [{ path: 'once.txt', content: 'once\n' }],
      },
    });
    await waitReady(env, 'gitcommit', 'resynced', ns);
    const commits = () => runOk('git', ['--git-dir', repo.gitDir, 'rev-list', '--count', 'main']);
    const committed = await commits();
    const metrics = async () => (await fetch(`http://127.0.0.1:${env.operator.metricsPort}/metrics`)).text();
    const reconciles = async () => total(await metrics(), 'gco_reconcile_total', { controller: 'gitcommit' });
    const before = await reconciles();
    // Nothing changes the object from here on: only the resync can reconcile it again.
    await waitFor(async () => (await reconciles()) >= before + 3, {
      timeoutMs: 20_000,
      describe: async () => `${(await reconciles()) - before} reconciles after the first, in 20 s`,
    });
    assert.equal(await commits(), committed);
    assert.equal(total(await metrics(), 'gco_executions_total', { kind: 'GitCommit' }), 1);
  });
});
