import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copySources, images } from '../src/images.ts';
import { repoRoot, run } from '../src/index.ts';
import {
  boundaryViolations,
  harness,
  readRepository,
  runtimePackages,
  workspacePackages,
} from '../src/package-boundaries.ts';

// Lint, format and types are part of the suite, so the closing `N passed, N failed` line covers them.
describe('repository checks', () => {
  const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);

  it('type-checks with strict TypeScript', async function () {
    this.timeout(120_000);
    const result = await run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: repoRoot, timeoutMs: 120_000 });
    assert.equal(result.code, 0, `tsc found errors:\n${result.stdout}${result.stderr}`);
  });

  it('type-checks each package on its own, with its own tsconfig.json', async function () {
    this.timeout(300_000);
    for (const { dir } of workspacePackages) {
      const result = await run(bin('tsc'), ['-p', join(dir, 'tsconfig.json')], { cwd: repoRoot, timeoutMs: 120_000 });
      assert.equal(result.code, 0, `tsc -p ${dir} found errors:\n${result.stdout}${result.stderr}`);
    }
  });

  it('passes lint and format checks (fix with `npm run format`)', async function () {
    this.timeout(60_000);
    const result = await run(bin('biome'), ['check', '--error-on-warnings', '.'], { cwd: repoRoot });
    assert.equal(result.code, 0, `biome found problems:\n${result.stdout}${result.stderr}`);
  });
});

describe('package boundaries', () => {
  const manifest = (name: string, deps: string[] = [], devDeps: string[] = []) => ({
    name,
    exports: { '.': './src/index.ts', './logger': './src/logger.ts' },
    dependencies: Object.fromEntries(deps.map((d) => [d, '*'])),
    devDependencies: Object.fromEntries(devDeps.map((d) => [d, '*'])),
  });
  const manifests = new Map(
    [
      manifest('@gco/common', [], [harness]),
      manifest('@gco/sidecar-api', ['@gco/common'], [harness]),
      manifest('@gco/operator', ['@gco/common', '@gco/sidecar-api'], [harness]),
      manifest('@gco/git-sidecar', ['@gco/common'], [harness]),
      manifest(harness, [], ['@gco/common', '@gco/sidecar-api', '@gco/operator', '@gco/git-sidecar']),
    ].map((m) => [m.name, m]),
  );

  it('names each way across a boundary: relative paths into or out of a package, the direction, undeclared and unexported imports', () => {
    const file = (path: string, ...specifiers: string[]) => ({
      path,
      text: specifiers.map((s, i) => `import { x${i} } from '${s}';\n`).join(''),
    });
    const fine = [
      file('operator/src/main.ts', './config.ts', '@gco/common/logger', '@gco/sidecar-api', 'yaml', 'node:fs'),
      file('operator/test/a.test.ts', '../src/main.ts', '@gco/testenv'),
      file('hack/testenv/test/helm.test.ts', '@gco/operator', '@gco/git-sidecar'),
      file('e2e/test/x.test.ts', '../src/target.ts', '@gco/testenv'),
    ];
    assert.deepEqual(boundaryViolations(fine, manifests), []);
    const cases: Array<[ReturnType<typeof file>, RegExp]> = [
      [file('operator/test/a.test.ts', '../../git-sidecar/test/support.ts'), /inside @gco\/git-sidecar/],
      [file('operator/bench/b.ts', '../../hack/testenv/src/temp.ts'), /inside @gco\/testenv/],
      [file('e2e/src/t.ts', '../../operator/src/config.ts'), /inside @gco\/operator/],
      [file('common/src/a.ts', '../../e2e/src/target.ts'), /outside its package @gco\/common/],
      [file('common/src/a.ts', '@gco/sidecar-api'), /@gco\/common's src\/ may import none of our packages/],
      [file('sidecar-api/src/a.ts', '@gco/operator'), /may import @gco\/common$/],
      [file('operator/src/a.ts', '@gco/git-sidecar'), /imports @gco\/git-sidecar;/],
      [file('git-sidecar/test/a.test.ts', '@gco/operator'), /imports @gco\/operator;/],
      [file('operator/src/a.ts', '@gco/testenv'), /src\/ may import @gco\/common, @gco\/sidecar-api$/],
      [file('git-sidecar/src/a.ts', '@gco/sidecar-api'), /does not list in dependencies/],
      [file('operator/src/a.ts', '@gco/common/src/logger.ts'), /which @gco\/common does not export/],
      [file('operator/src/a.ts', '@gco/nothing'), /no package of this repository/],
    ];
    for (const [f, expected] of cases) {
      const found = boundaryViolations([f], manifests);
      assert.equal(found.length, 1, `${f.text}: ${found.join('; ')}`);
      assert.match(found[0] as string, expected);
    }
    const wrongWay = new Map(manifests).set('@gco/common', manifest('@gco/common', ['@gco/sidecar-api']));
    assert.match(
      boundaryViolations([], wrongWay).join('\n'),
      /common\/package.json: dependencies lists @gco\/sidecar-api/,
    );
  });

  it('hold in this repository', () => {
    const { files, manifests } = readRepository(repoRoot);
    assert.ok(files.length > 100, `${files.length} sources found`);
    assert.deepEqual(boundaryViolations(files, manifests), []);
  });

  it('give each image its own package and the packages it depends on, and nothing else', () => {
    const { manifests } = readRepository(repoRoot);
    for (const { dockerfile } of Object.values(images)) {
      const pkg = workspacePackages.find((p) => dockerfile.startsWith(`${p.dir}/`))!;
      const runs = runtimePackages(pkg.name, manifests).map((n) => workspacePackages.find((p) => p.name === n)!.dir);
      const sources = copySources(readFileSync(join(repoRoot, dockerfile), 'utf8')).map((s) => s.replace(/\/$/, ''));
      for (const source of sources) {
        assert.ok(
          ['package.json', 'package-lock.json'].includes(source) || runs.some((dir) => source.startsWith(`${dir}/`)),
          `${dockerfile} copies ${source}, which ${pkg.name} does not run (it runs ${runs.join(', ')})`,
        );
      }
      for (const dir of runs) {
        for (const needed of [`${dir}/package.json`, `${dir}/src`]) {
          assert.ok(sources.includes(needed), `${dockerfile} does not copy ${needed}`);
        }
      }
    }
  });
});
