import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot, run, tempDir } from '@gco/testenv';

const packageDir = join(repoRoot, 'sidecar-api');
const buf = join(repoRoot, 'node_modules/.bin/buf');

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p, 'utf8'));
    }
  };
  await walk(dir);
  return out;
}

describe('sidecar API: protocol', () => {
  it('has generated code exactly as buf makes it from the .proto (regenerate: npm run generate)', async function () {
    this.timeout(60_000);
    const out = await tempDir();
    const env = { ...process.env, PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH}` };
    const result = await run(buf, ['generate', '-o', out], { cwd: packageDir, env });
    assert.equal(result.code, 0, result.stderr);
    const fresh = await files(join(out, 'src/gen'));
    const committed = await files(join(packageDir, 'src/gen'));
    assert.deepEqual([...committed.keys()].sort(), [...fresh.keys()].sort());
    for (const [name, text] of fresh) assert.equal(committed.get(name), text, `src/gen/${name} is stale`);
  });

  it('passes buf lint', async () => {
    const result = await run(buf, ['lint'], { cwd: packageDir });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  });
});
