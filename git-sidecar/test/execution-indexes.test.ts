import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createBareRepository, tempDir } from '@gco/testenv';
import { formatCommit, ObjectStore } from '../src/git/objects.ts';
import { ExecutionIndexes, maxIndexedCommits } from '../src/jobs/execution-indexes.ts';

describe('git sidecar: execution indexes', () => {
  it('keeps the indexes of as many branches as the commit budget allows, forgetting the least recently used', () => {
    const indexes = new ExecutionIndexes(1000, 3000);
    const a = indexes.of('a');
    const b = indexes.of('b');
    const c = indexes.of('c');
    assert.equal(indexes.of('a'), a, 'a branch worked on again keeps its index');
    indexes.of('d');
    assert.equal(indexes.size, 3);
    assert.equal(indexes.of('a'), a);
    assert.equal(indexes.of('c'), c);
    assert.notEqual(indexes.of('b'), b, 'the least recently used branch was forgotten');

    const defaults = new ExecutionIndexes(1000);
    for (let i = 0; i < 600; i++) defaults.of(`refs/pull/${i}/head`);
    assert.equal(defaults.size, maxIndexedCommits / 1000);
    const deep = new ExecutionIndexes(maxIndexedCommits * 2);
    deep.of('x');
    deep.of('y');
    assert.equal(deep.size, 1, 'a depth beyond the budget still indexes the branch being worked on');
  });

  it('a forgotten index, made again, still finds the executions on its branch', async () => {
    const gitDir = join(await tempDir(), 'r.git');
    await createBareRepository(gitDir, { files: 2 });
    const objects = new ObjectStore({ gitDir, env: process.env, timeoutMs: 30_000 });
    try {
      const base = (await objects.resolveCommit('main')) as string;
      const tree = /^tree (\S+)$/m.exec((await objects.read(base))?.content.toString() ?? '')?.[1] as string;
      const landed = await objects.writeCommit(
        formatCommit({
          tree,
          parents: [base],
          author: { name: 'Bench', email: 'bench@example.com', time: 1_700_000_000 },
          message: 'export\n\nGco-Execution: e-1\n',
        }),
      );
      const indexes = new ExecutionIndexes(10, 10);
      assert.deepEqual(await indexes.of('main').find(objects, landed, new Set(['e-1'])), new Map([['e-1', landed]]));
      const before = indexes.of('main');
      indexes.of('other');
      const again = indexes.of('main');
      assert.notEqual(again, before, 'forgotten, with a budget of one branch');
      assert.deepEqual(await again.find(objects, landed, new Set(['e-1'])), new Map([['e-1', landed]]));
    } finally {
      await objects.close();
    }
  });
});
