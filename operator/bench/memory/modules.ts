/**
 * What the operator's modules cost when imported, in the order main.ts needs them, measured from a fresh
 * process after GC: anonymous RSS (heaps, WebAssembly memory, malloc: what a container's memory limit
 * counts and cannot reclaim) and, of it, the V8 heap. The first rows are Node itself: a plain .js script
 * (measured in a child), this .ts script before it imports anything (Node strips types with a
 * WebAssembly build of swc, whose memory grows with the sources it strips and never shrinks), and the
 * stripping of every .ts source the operator loads, alone, in a plain .js child. Run with --expose-gc;
 * prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** Anonymous RSS and V8 heap, MB, after GC; the same function runs in the .js children. */
const measureSource = `() => {
  gc(); gc();
  const status = require('node:fs').readFileSync('/proc/self/status', 'utf8');
  return { anon: Number(/RssAnon:\\s+(\\d+)/.exec(status)[1]) / 1024, heap: process.memoryUsage().heapUsed / 2 ** 20 };
}`;
const measure = (): { anon: number; heap: number } => {
  gc?.();
  gc?.();
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    anon: Number(/RssAnon:\s+(\d+)/.exec(status)?.[1]) / 1024,
    heap: process.memoryUsage().heapUsed / 2 ** 20,
  };
};
const child = (body: string) =>
  JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '--no-warnings', '-e', `const measure = ${measureSource};\n${body}`])
      .toString()
      .trim(),
  ) as { anon: number; heap: number };

const atStart = measure();
const plainJs = child('console.log(JSON.stringify(measure()))');

const src = join(import.meta.dirname, '../../src');
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
// main.ts runs the operator when imported; generate.ts writes the CRDs.
const own = sources(src).filter((f) => !['main.ts', 'api/generate.ts'].includes(relative(src, f)));
// The packages the operator depends on, whole: logger, flags, telemetry, validation; the sidecar's client.
// Found where Node resolves them, as the operator imports them.
const packageSrc = (entry: string) => dirname(fileURLToPath(import.meta.resolve(entry)));
const shared = [packageSrc('@gco/common/logger'), packageSrc('@gco/sidecar-api')]
  .flatMap(sources)
  .filter((f) => !f.endsWith('.d.ts'));
const stripping = child(`
  const { stripTypeScriptTypes } = require('node:module');
  const files = ${JSON.stringify([...own, join(src, 'main.ts'), ...shared])};
  const before = measure();
  for (const f of files) stripTypeScriptTypes(require('node:fs').readFileSync(f, 'utf8'));
  const after = measure();
  console.log(JSON.stringify({ anon: after.anon - before.anon, heap: after.heap - before.heap }));
`);

const steps: Array<[string, () => Promise<unknown>]> = [
  ['@opentelemetry/api', () => import('@opentelemetry/api')],
  [
    'prom-client, with the default process metrics',
    async () => (await import('@gco/common/telemetry')).createRegistry(),
  ],
  ['winston (the logger)', () => import('@gco/common/logger')],
  ['yaml', () => import('yaml')],
  ['typebox and the API types', () => import('../../src/api/v1/types.ts')],
  ['croner', () => import('croner')],
  ['the gRPC client: connect, protobuf, generated code', () => import('@gco/sidecar-api')],
  ['@octokit/graphql', () => import('@octokit/graphql')],
  [`the operator's own modules (${own.length} files)`, () => Promise.all(own.map((f) => import(f)))],
];
const rows = [
  { what: 'Node, a plain .js script (absolute)', anonMb: plainJs.anon, heapMb: plainJs.heap },
  { what: 'running a .ts file', anonMb: atStart.anon - plainJs.anon, heapMb: atStart.heap - plainJs.heap },
  {
    what: `stripping the types of the ${own.length + 1 + shared.length} .ts sources it loads, alone (in a .js process)`,
    anonMb: stripping.anon,
    heapMb: stripping.heap,
  },
];
let last = atStart;
for (const [what, load] of steps) {
  await load();
  const now = measure();
  rows.push({ what, anonMb: now.anon - last.anon, heapMb: now.heap - last.heap });
  last = now;
}
rows.push({ what: 'all of the above, imported (absolute)', anonMb: last.anon, heapMb: last.heap });
console.log(JSON.stringify({ rows }));
process.exit(0);
