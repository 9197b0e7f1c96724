// hack/lib/cache.sh, which every build script uses for its cache entries: two runs at once (a test run
// and the demo in two terminals) must neither collide nor build twice, and a failed or killed build must
// leave nothing a later run would trust.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, run, tempDir } from '../src/index.ts';

/** Runs `cached_build OUT BUILDER` in bash with the given builder function's body. */
function cachedBuild(out: string, builderBody: string) {
  const script = `set -euo pipefail
source ${JSON.stringify(join(repoRoot, 'hack/lib/cache.sh'))}
builder() { ${builderBody}; }
cached_build ${JSON.stringify(out)} builder
echo done`;
  return run('bash', ['-c', script], { timeoutMs: 30_000 });
}

describe('build cache entries (hack/lib/cache.sh)', () => {
  it('builds an entry once when two runs ask for it at once; the second waits and uses it', async () => {
    const dir = await tempDir('gco-cache-');
    const out = join(dir, 'bin/tool');
    const builder = 'sleep 1; echo "built by $BASHPID" >"$1"';
    const [a, b] = await Promise.all([cachedBuild(out, builder), cachedBuild(out, builder)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal([a, b].filter((r) => r.stderr.includes('waiting for another run')).length, 1);
    assert.equal([a, b].filter((r) => r.stderr.includes('[cache] built')).length, 1, 'built exactly once');
    assert.match(await readFile(out, 'utf8'), /^built by \d+\n$/);
    assert.deepEqual((await readdir(join(dir, 'bin'))).sort(), ['tool', 'tool.lock']);
  });

  it('keeps nothing of a failed build, and the next run builds again', async () => {
    const dir = await tempDir('gco-cache-');
    const out = join(dir, 'tool');
    // Writes its output, then fails: the half-made entry must not become the cache entry.
    const failed = await cachedBuild(out, 'echo partial >"$1"; false; echo never');
    assert.notEqual(failed.code, 0);
    assert.doesNotMatch(failed.stdout, /done/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await readdir(dir), ['tool.lock']);

    const next = await cachedBuild(out, 'echo complete >"$1"');
    assert.equal(next.code, 0, next.stderr);
    assert.equal(await readFile(out, 'utf8'), 'complete\n');
  });

  it('discards what a killed build left in its temporary directory', async () => {
    const dir = await tempDir('gco-cache-');
    const out = join(dir, 'tool');
    const killed = await run('bash', [
      '-c',
      `source ${JSON.stringify(join(repoRoot, 'hack/lib/cache.sh'))}
       builder() { echo partial >"$1"; kill -KILL $$; }
       cached_build ${JSON.stringify(out)} builder`,
    ]);
    assert.equal(killed.code, null, 'killed');
    assert.equal(existsSync(out), false);
    assert.ok(
      (await readdir(dir)).some((f) => f.startsWith('tool.tmp.')),
      'the killed run left its temporary',
    );

    const next = await cachedBuild(out, 'echo complete >"$1"');
    assert.equal(next.code, 0, next.stderr);
    assert.equal(await readFile(out, 'utf8'), 'complete\n');
    assert.deepEqual((await readdir(dir)).sort(), ['tool', 'tool.lock']);
  });
});
