import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, run, tempDir, waitFor } from '../src/index.ts';

const node = join(repoRoot, 'node_modules/.bin/node');

function start(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; out: () => string } {
  const child = spawn(node, [join(import.meta.dirname, 'fixtures', script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { child, out: () => out };
}

/** Whether `pid` has a flock(1) child, which is waiting for or holding a lock. */
async function hasFlockChild(pid: number): Promise<boolean> {
  const result = await run('pgrep', ['-P', String(pid), '-x', 'flock']);
  return result.code === 0;
}

describe('the harness cache: two runs at once', () => {
  it('makes an entry once: a second run waits for the first one and gets what it made', async () => {
    const dir = await tempDir();
    const entry = join(dir, 'entry');
    const go = join(dir, 'go');
    const first = start('cache-maker.ts', [entry, go, 'made by the first']);
    await waitFor(async () => (await readFile(`${entry}.makes`, 'utf8').catch(() => '')).length > 0, {
      timeoutMs: 30_000,
      describe: () => 'the first run never started making the entry',
    });
    const second = start('cache-maker.ts', [entry, go, 'made by the second']);
    // The second run is blocked on the entry's lock while the first holds it half-made.
    await waitFor(() => hasFlockChild(second.child.pid as number), {
      timeoutMs: 30_000,
      describe: () => 'the second run never asked for the lock',
    });
    assert.equal(second.child.exitCode, null);
    await writeFile(go, '');
    await Promise.all([once(first.child, 'exit'), once(second.child, 'exit')]);
    assert.equal(first.out().trim(), 'made by the first');
    assert.equal(second.out().trim(), 'made by the first');
    const makes = (await readFile(`${entry}.makes`, 'utf8')).trim().split('\n');
    assert.equal(makes.length, 1, `made more than once: ${makes.join(', ')}`);
    // Nothing half-made is left under a temporary name.
    assert.deepEqual((await readdir(dir)).sort(), ['entry', 'entry.lock', 'entry.makes', 'go']);
  });
});
