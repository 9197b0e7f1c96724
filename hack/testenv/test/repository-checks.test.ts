import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copySources, images } from '../src/images.ts';
import { repoRoot, run } from '../src/index.ts';
import {
  boundaryViolations,
  harness,
  type Manifest,
  readRepository,
  runtimePackages,
  workspacePackages,
} from '../src/package-boundaries.ts';
import { loadedAtStart, operatorStart, startViolations } from '../src/startup-imports.ts';

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
          // The lock, and what the build stage compiles with (hack/build.sh and its base tsconfig).
          ['package.json', 'package-lock.json', 'tsconfig.base.json', 'hack/build.sh'].includes(source) ||
            runs.some((dir) => source.startsWith(`${dir}/`)),
          `${dockerfile} copies ${source}, which ${pkg.name} does not run (it runs ${runs.join(', ')})`,
        );
      }
      for (const dir of runs) {
        // The packages that ship compiled have a tsconfig.build.json (the development git server does not).
        const build = existsSync(join(repoRoot, dir, 'tsconfig.build.json')) ? [`${dir}/tsconfig.build.json`] : [];
        for (const needed of [`${dir}/package.json`, ...build, `${dir}/src`]) {
          assert.ok(sources.includes(needed), `${dockerfile} does not copy ${needed}`);
        }
      }
    }
  });
});

describe('what a process loads at start', () => {
  const manifests = new Map<string, Manifest>([
    ['@gco/operator', { name: '@gco/operator' }],
    [
      '@gco/common',
      {
        name: '@gco/common',
        exports: {
          './telemetry': { 'gco-compiled': './dist/telemetry/index.js', default: './src/telemetry/index.ts' },
          './logger': './src/logger.ts',
        },
      },
    ],
  ]);
  const notAtStart = [
    { name: 'typebox', why: 'schemas' },
    { name: '@octokit/graphql', why: 'GitHub' },
    { name: '@opentelemetry/sdk-node', why: 'export' },
  ];
  /** main.ts imports a.ts, whose text is `a`, and the telemetry of @gco/common, whose text is `telemetry`. */
  const sources = (a: string, telemetry = "import { trace } from '@opentelemetry/api';\n") => [
    {
      path: 'operator/src/main.ts',
      text: "import { a } from './a.ts';\nimport { startTracing } from '@gco/common/telemetry';\n",
    },
    { path: 'operator/src/a.ts', text: a },
    { path: 'operator/src/b.ts', text: "import Type from 'typebox';\nexport const b = Type.String();\n" },
    { path: 'common/src/telemetry/index.ts', text: telemetry },
    { path: 'common/src/logger.ts', text: "import winston from 'winston';\n" },
  ];
  const violations = (a: string, telemetry?: string) =>
    startViolations('operator/src/main.ts', notAtStart, sources(a, telemetry), manifests);

  it('follows what loads with a module, relative and through our exports, not types or import(), and names the way in', () => {
    const fine = [
      "import type { TSchema } from 'typebox';",
      "import type Type from 'typebox';",
      "export type { TSchema } from 'typebox';",
      "export type * from 'typebox';",
      "import type {\n  TSchema,\n  Static,\n} from 'typebox';",
      "const load = () => import('@octokit/graphql');",
      "type Octokit = typeof import('@octokit/graphql');",
      "// import Type from 'typebox';",
      "import { log } from '@gco/common/logger';",
    ];
    for (const a of fine) assert.deepEqual(violations(a), [], a);
    const reach = loadedAtStart('operator/src/main.ts', sources(fine.join('\n')), manifests);
    assert.deepEqual([...reach.files.keys()].sort(), [
      'common/src/logger.ts',
      'common/src/telemetry/index.ts',
      'operator/src/a.ts',
      'operator/src/main.ts',
    ]);
    assert.deepEqual([...reach.packages.keys()].sort(), ['@opentelemetry/api', 'winston']);

    const loading: Array<[string, RegExp]> = [
      ["import Type from 'typebox';", /main\.ts -> operator\/src\/a\.ts -> typebox\. Not at start because schemas/],
      // verbatimModuleSyntax keeps it as `import {} from 'typebox'`, and so does Node's type stripping.
      ["import { type TSchema } from 'typebox';", /a\.ts -> typebox\./],
      ["import {\n  Type,\n  type TSchema,\n} from 'typebox/type';", /a\.ts -> typebox\./],
      ["import * as octokit from '@octokit/graphql';", /a\.ts -> @octokit\/graphql\./],
      ["export * from './b.ts';", /main\.ts -> operator\/src\/a\.ts -> operator\/src\/b\.ts -> typebox\./],
      ["export { b } from './b.ts';", /a\.ts -> operator\/src\/b\.ts -> typebox\./],
      ["import './b.ts';", /b\.ts -> typebox\./],
      ["import { b } from './b.js';", /b\.ts -> typebox\./],
      ["const { graphql } = require('@octokit/graphql');", /a\.ts -> @octokit\/graphql\./],
      ["import { x } from './missing.ts';", /cannot follow operator\/src\/a\.ts: \.\/missing\.ts/],
      ["import { x } from '@gco/common/nothing';", /cannot follow operator\/src\/a\.ts: @gco\/common\/nothing/],
    ];
    for (const [a, expected] of loading) {
      const found = violations(a);
      assert.equal(found.length, 1, `${a}: ${found.join('; ')}`);
      assert.match(found[0] as string, expected, a);
    }
    // Through a package's conditional export, as Node resolves it without --conditions.
    assert.match(
      violations('', "import { NodeSDK } from '@opentelemetry/sdk-node';").join('\n'),
      /main\.ts -> common\/src\/telemetry\/index\.ts -> @opentelemetry\/sdk-node\. Not at start because export/,
    );
  });

  it('hold for the operator: none of the packages only an optional path needs is loaded at start', () => {
    const { files, manifests } = readRepository(repoRoot, { generated: true });
    const { entry, notAtStart } = operatorStart;
    const reach = loadedAtStart(entry, files, manifests);
    // The walk sees what the operator runs, so that finding nothing means something.
    for (const file of [
      'operator/src/controllers/execution/controller.ts',
      'operator/src/controllers/pullrequest/github.ts',
      'operator/src/api/v1/gitcommit.ts',
      'common/src/telemetry/index.ts',
      'sidecar-api/src/gen/gco/sidecar/v1/sidecar_pb.js',
    ]) {
      assert.ok(reach.files.has(file), `${entry} reaches ${file}`);
    }
    for (const name of ['yaml', 'croner', '@bufbuild/protobuf']) assert.ok(reach.packages.has(name), name);
    // Each package named is one the operator's image runs, so the list does not outlive what it guards.
    const dependencies = runtimePackages('@gco/operator', manifests).flatMap((p) =>
      Object.keys(manifests.get(p)?.dependencies ?? {}),
    );
    for (const { name } of notAtStart) assert.ok(dependencies.includes(name), `${name} is a dependency`);
    assert.deepEqual(startViolations(entry, notAtStart, files, manifests), []);
  });
});
