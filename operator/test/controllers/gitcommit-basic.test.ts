import assert from 'node:assert/strict';
import { fileAt } from '@gco/testenv';
import { type Environment, getStatus, startEnvironment, tokenSecret, waitReady } from '../support.ts';

describe('GitCommit controller: basics', function () {
  this.timeout(180_000);
  let env: Environment;
  const ns = 'git-change-operator-system';

  before(async function () {
    this.timeout(180_000);
    env = await startEnvironment();
    await env.apply(tokenSecret('git-credentials', ns));
  });
  after(() => env?.stop());

  it('commits a ConfigMap and a literal file, and reports it in status', async () => {
    const repo = await env.repository('basic.git');
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app', namespace: ns },
      data: { 'app.properties': 'a=1\n', level: 'info' },
    });
    await env.apply({
      apiVersion: 'gco.galos.one/v1',
      kind: 'GitCommit',
      metadata: { name: 'basic', namespace: ns },
      spec: {
        repository: { url: repo.url, branch: 'main' },
        auth: { secretName: 'git-credentials' },
        commit: { author: 'Basic Test <basic@example.com>', message: 'Basic $(date +%Y)' },
        files: [{ path: 'README.md', content: 'hello\n' }],
        resourceReferences: [
          { name: 'app', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'fields', output: { path: 'app/' } },
        ],
      },
    });
    await waitReady(env, 'gitcommit', 'basic');
    assert.equal(await fileAt(repo.gitDir, 'main', 'README.md'), 'hello\n');
    assert.equal(await fileAt(repo.gitDir, 'main', 'app/app.properties'), 'a=1\n');
    assert.equal(await fileAt(repo.gitDir, 'main', 'app/level'), 'info');
    const status = await getStatus(env, 'gitcommit', 'basic');
    assert.equal(status.phase, 'Committed');
    assert.equal(status.branch, 'main');
    assert.match(status.commitSHA, /^[0-9a-f]{40}$/);
    assert.equal(status.shortCommitSHA, status.commitSHA.slice(0, 7));
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.executionHistory[0].result, 'Committed');
  });
});
