import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot, run } from '../src/index.ts';

// Lint, format and types are part of the suite, so the closing `N passed, N failed` line covers them.
describe('repository checks', () => {
  const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);

  it('type-checks with strict TypeScript', async function () {
    this.timeout(120_000);
    const result = await run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: repoRoot, timeoutMs: 120_000 });
    assert.equal(result.code, 0, `tsc found errors:\n${result.stdout}${result.stderr}`);
  });

  it('passes lint and format checks (fix with `npm run format`)', async function () {
    this.timeout(60_000);
    const result = await run(bin('biome'), ['check', '--error-on-warnings', '.'], { cwd: repoRoot });
    assert.equal(result.code, 0, `biome found problems:\n${result.stdout}${result.stderr}`);
  });
});
