/**
 * What the operator's informer cache of the GitCommits of one namespace costs in heap, and which parts
 * of the objects it goes to. Run with --expose-gc against a cluster ($KUBECONFIG) that holds them:
 *
 *   node --expose-gc operator/bench/memory/informer-cache.ts <namespace>
 *
 * The cache is the operator's own Informer. The parts are measured on copies parsed from JSON with a
 * part left out each time, every copy measured alone with the JSON texts held throughout, so that only
 * the parsed objects differ between two measurements. Prints one JSON line.
 */
import { gitCommitType } from '../../src/controllers/gitcommit/controller.ts';
import { silentLogger } from '../../src/logger.ts';
import { loadClusterAuth } from '../../src/runtime/cluster-auth.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/resources.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const MB = 2 ** 20;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const namespace = process.argv[2] ?? 'default';
const client = new KubeClient(await loadClusterAuth());

// The cache as the operator builds it, and the heap's peak while the list comes in and is parsed.
const before = heapUsed();
let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().heapUsed);
}, 1);
const informer = new Informer<KubeObject>(client, gitCommitType, { namespace, logger: silentLogger });
await informer.start();
informer.stop();
clearInterval(sampler);
const cached = heapUsed();
const objects = informer.list();
const jsonBytes = objects.reduce((n, o) => n + Buffer.byteLength(JSON.stringify(o)), 0);

type Obj = Record<string, unknown> & { metadata: Record<string, unknown>; status?: Record<string, unknown> };
function without(obj: Obj, part: 'managedFields' | 'executionHistory' | 'status'): Obj {
  const copy = structuredClone(obj);
  delete copy.metadata.managedFields;
  if (part !== 'managedFields' && copy.status) delete copy.status.executionHistory;
  if (part === 'status') delete copy.status;
  return copy;
}
/** Heap of the objects parsed from `texts` (the texts themselves excluded). */
function parsedCost(texts: string[]): number {
  const base = heapUsed();
  const parsed = texts.map((t) => JSON.parse(t) as unknown);
  const cost = heapUsed() - base;
  if (parsed.length !== texts.length) throw new Error('unreachable');
  return cost;
}
const texts = (f: (o: Obj) => Obj) => (objects as unknown as Obj[]).map((o) => JSON.stringify(f(o)));
const whole = parsedCost(texts((o) => o));
const noManagedFields = parsedCost(texts((o) => without(o, 'managedFields')));
const noHistory = parsedCost(texts((o) => without(o, 'executionHistory')));
const metadataAndSpec = parsedCost(texts((o) => without(o, 'status')));

const managedFieldsBytes = objects.reduce(
  (n, o) => n + Buffer.byteLength(JSON.stringify((o.metadata as { managedFields?: unknown }).managedFields ?? [])),
  0,
);
const rows = [
  { what: 'the Informer (heap after GC)', mb: (cached - before) / MB },
  { what: 'heap peak while listing, above the start', mb: (peak - before) / MB },
  { what: 'their JSON', mb: jsonBytes / MB },
  { what: 'parsed from JSON, whole', mb: whole / MB },
  { what: '... metadata.managedFields', mb: (whole - noManagedFields) / MB },
  { what: '... status.executionHistory', mb: (noManagedFields - noHistory) / MB },
  { what: '... the rest of status (conditions, phase, SHAs)', mb: (noHistory - metadataAndSpec) / MB },
  { what: '... metadata without managedFields, and spec', mb: metadataAndSpec / MB },
  { what: 'managedFields as JSON', mb: managedFieldsBytes / MB },
];
console.log(JSON.stringify({ objects: objects.length, rows }));
process.exit(0);
