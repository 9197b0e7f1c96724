import assert from 'node:assert/strict';
import { DefaultBranchCache, maxCachedDefaultBranches } from '../src/jobs/default-branch-cache.ts';

describe('git sidecar: default branch cache', () => {
  let clock = 0;
  let asked: string[] = [];
  const ask = (repository: string, branch: string) => async () => {
    asked.push(repository);
    return branch;
  };
  beforeEach(() => {
    clock = 0;
    asked = [];
  });

  it('asks the remote again once an answer is older than its time to live', async () => {
    const cache = new DefaultBranchCache(1000, { now: () => clock });
    assert.equal(await cache.get('a', ask('a', 'main')), 'main');
    clock = 999;
    assert.equal(await cache.get('a', ask('a', 'renamed')), 'main', 'still within the time to live');
    clock = 1000;
    assert.equal(await cache.get('a', ask('a', 'renamed')), 'renamed', 'a renamed default branch is followed');
    assert.deepEqual(asked, ['a', 'a']);
  });

  it('keeps at most its bound of repositories, dropping the least recently asked', async () => {
    const cache = new DefaultBranchCache(60_000, { maxRepositories: 2, now: () => clock });
    await cache.get('a', ask('a', 'main'));
    await cache.get('b', ask('b', 'main'));
    await cache.get('a', ask('a', 'main'));
    await cache.get('c', ask('c', 'main'));
    assert.equal(cache.size, 2);
    await cache.get('a', ask('a', 'main'));
    await cache.get('b', ask('b', 'main'));
    assert.deepEqual(asked, ['a', 'b', 'c', 'b'], 'b, asked least recently, was dropped; a was kept');

    const defaults = new DefaultBranchCache(60_000, { now: () => clock });
    for (let i = 0; i < maxCachedDefaultBranches + 10; i++) await defaults.get(`r${i}`, ask(`r${i}`, 'main'));
    assert.equal(defaults.size, maxCachedDefaultBranches);
  });

  it('caches nothing when the remote cannot be asked', async () => {
    const cache = new DefaultBranchCache(60_000, { now: () => clock });
    await assert.rejects(
      cache.get('a', async () => {
        throw new Error('unreachable');
      }),
      /unreachable/,
    );
    assert.equal(cache.size, 0);
    assert.equal(await cache.get('a', ask('a', 'main')), 'main');
  });
});
