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
import { readFileSync, writeFileSync } from 'node:fs';
import { silentLogger } from '@gco/common/logger';
import { gitCommitDefinition } from '../../src/api/v1/gitcommit.ts';
import { resourceTypeOf } from '../../src/controllers/execution/controller.ts';
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

/** Resident set now and its high-water mark (VmHWM), from the kernel. */
function residentMb(): { now: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

// The cache as the operator builds it, and the process's peak while the list comes in and is parsed (the
// body, its text and the parsed objects at once; a sampler could not see it, the parse blocks the loop).
const before = heapUsed();
const residentBefore = residentMb();
// Resets the high-water mark to the current RSS (Linux's clear_refs).
writeFileSync('/proc/self/clear_refs', '5');
const informer = new Informer<KubeObject>(client, resourceTypeOf(gitCommitDefinition), {
  namespace,
  logger: silentLogger,
});
await informer.start();
informer.stop();
const listPeak = residentMb().peak - residentBefore.now;
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
  { what: 'RSS high-water mark while listing, above the start', mb: listPeak },
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
