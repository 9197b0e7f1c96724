/**
 * What each process's modules cost when imported, in the order its main.js needs them, measured as the
 * images run them: compiled JavaScript (hack/build.sh, the `gco-compiled` condition), in a fresh plain
 * .js process, after GC. Each row is anonymous RSS (heaps, malloc: what a container's memory limit
 * counts and cannot reclaim) and, of it, the V8 heap. The first rows are Node itself and what running the
 * TypeScript sources instead would add: Node strips types with a WebAssembly build of swc, whose memory
 * grows with the sources it strips and never shrinks.
 *
 *   node --expose-gc operator/bench/memory/modules.ts operator|sidecar     (after `npm run build`)
 *
 * Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compiledCondition, repoRoot } from '@gco/testenv';

const which = process.argv[2];
if (which !== 'operator' && which !== 'sidecar') throw new Error('usage: modules.ts operator|sidecar');
const pkgDir = join(repoRoot, which === 'operator' ? 'operator' : 'git-sidecar');
if (!existsSync(join(pkgDir, 'dist/main.js'))) throw new Error(`${pkgDir}/dist is missing: run \`npm run build\``);

/** Anonymous RSS and V8 heap, MB, after GC, in the child. */
const measure = `() => {
  gc(); gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  return { anon: Number(/RssAnon:\\s+(\\d+)/.exec(status)[1]) / 1024, heap: process.memoryUsage().heapUsed / 2 ** 20 };
}`;
/** Runs an ES module body in a fresh .js process beside the package (so that its imports resolve). */
const child = <T>(body: string): T =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--no-warnings',
        `--conditions=${compiledCondition}`,
        '--input-type=module',
        '-e',
        `import { readFileSync } from 'node:fs';\nconst measure = ${measure};\n${body}`,
      ],
      { cwd: pkgDir },
    )
      .toString()
      .trim(),
  ) as T;

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [],
  );
}
// main.js runs the process when imported; generate.js writes the CRDs.
const own = files(join(pkgDir, 'dist'), '.js').filter(
  (f) => !['main.js', 'api/generate.js'].includes(relative(join(pkgDir, 'dist'), f)),
);
const sources = [pkgDir, join(repoRoot, 'common'), join(repoRoot, 'sidecar-api')].flatMap((d) =>
  files(join(d, 'src'), '.ts').filter((f) => !f.endsWith('.d.ts')),
);

const shared: Array<[string, string]> = [
  ['@opentelemetry/api', `await import('@opentelemetry/api')`],
  ['prom-client, with the default process metrics', `(await import('@gco/common/telemetry')).createRegistry()`],
  ['winston (the logger)', `await import('@gco/common/logger')`],
];
const steps: Array<[string, string]> =
  which === 'operator'
    ? [
        ...shared,
        ['yaml', `await import('yaml')`],
        ['croner', `await import('croner')`],
        ['the gRPC client: connect, protobuf, generated code', `await import('@gco/sidecar-api')`],
      ]
    : [
        ...shared,
        [
          'the gRPC server: connect, protobuf, generated code',
          `await import('@connectrpc/connect-node'); await import('@gco/sidecar-api')`,
        ],
      ];
steps.push([
  `the ${which}'s own modules (${own.length} files)`,
  `await Promise.all(${JSON.stringify(own)}.map((f) => import(f)))`,
]);

const result = child<{ plain: { anon: number; heap: number }; rows: Array<[string, number, number]> }>(`
  const plain = measure();
  const rows = [];
  let last = plain;
  for (const [what, load] of [${steps.map(([what, load]) => `[${JSON.stringify(what)}, async () => { ${load}; }]`).join(', ')}]) {
    await load();
    const now = measure();
    rows.push([what, now.anon - last.anon, now.heap - last.heap]);
    last = now;
  }
  rows.push(['all of the above, imported (absolute)', last.anon, last.heap]);
  console.log(JSON.stringify({ plain, rows }));
`);
const stripping = child<{ anon: number; heap: number }>(`
  const { stripTypeScriptTypes } = await import('node:module');
  const before = measure();
  for (const f of ${JSON.stringify(sources)}) stripTypeScriptTypes(readFileSync(f, 'utf8'));
  const after = measure();
  console.log(JSON.stringify({ anon: after.anon - before.anon, heap: after.heap - before.heap }));
`);

const rows = [
  { what: 'Node, a plain .js script (absolute)', anonMb: result.plain.anon, heapMb: result.plain.heap },
  ...result.rows.map(([what, anonMb, heapMb]) => ({ what, anonMb, heapMb })),
  {
    what: `not spent: stripping the types of the ${sources.length} .ts sources, were they run instead`,
    anonMb: stripping.anon,
    heapMb: stripping.heap,
  },
];
console.log(JSON.stringify({ rows }));
