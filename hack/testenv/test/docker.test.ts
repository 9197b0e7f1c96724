import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir, waitFor } from '../src/index.ts';

/** Whether `pid` runs: not gone, and not a zombie that this machine's init has yet to reap. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('the private Docker engine', function () {
  this.timeout(180_000);

  it('is shared by two runs at once, and stopped by the last one to leave', async () => {
    // An engine of its own (its own cache, data root and socket): a run's images tests may hold the
    // usual one until the run ends.
    const cache = await tempDir('gco-docker-cache-');
    const user = (): { child: ChildProcess; lines: () => string[] } => {
      const child = spawn(
        join(repoRoot, 'node_modules/.bin/node'),
        [join(import.meta.dirname, 'fixtures/docker-user.ts')],
        { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, GCO_CACHE_DIR: cache } },
      );
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      return { child, lines: () => out.split('\n').filter(Boolean) };
    };
    const ready = async (u: ReturnType<typeof user>) => {
      await waitFor(async () => u.lines().length > 0, {
        timeoutMs: 120_000,
        describe: () => 'the engine did not answer',
      });
      return Number(u.lines()[0]);
    };
    const first = user();
    const second = user();
    const [pid1, pid2] = await Promise.all([ready(first), ready(second)]);
    assert.ok(pid1 > 0);
    assert.equal(pid2, pid1, 'one engine for both');

    first.child.stdin?.end();
    await once(first.child, 'exit');
    assert.deepEqual(first.lines().slice(1), ['released']);
    assert.ok(alive(pid1), 'the engine still runs for the second run');

    second.child.stdin?.end();
    await once(second.child, 'exit');
    assert.deepEqual(second.lines().slice(1), ['released']);
    assert.ok(!alive(pid1), 'the last one to leave stopped it');
  });
});
