/**
 * How long the test harness takes to make large repositories (the git sidecar's benchmarks need a
 * 100k-file, 10k-commit one). Target: under a minute for 100k files.
 */
import { join } from 'node:path';
import { createBareRepository, runOk, tempDir } from '../src/index.ts';
import { removeTempDirs } from '../src/temp.ts';

const shapes = [
  { files: 1_000, commits: 1_000 },
  { files: 100_000, commits: 10_000 },
];
try {
  for (const shape of shapes) {
    const root = await tempDir('gco-bench-');
    const path = join(root, 'repo.git');
    const start = performance.now();
    await createBareRepository(path, shape);
    const seconds = (performance.now() - start) / 1000;
    const size = (await runOk('du', ['-sm', path])).split('\t')[0];
    console.log(
      `repository factory: ${shape.files} files, ${shape.commits} commits: ${seconds.toFixed(1)} s, ${size} MB`,
    );
  }
} finally {
  await removeTempDirs();
}
