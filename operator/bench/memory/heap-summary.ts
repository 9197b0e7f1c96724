/**
 * Where a V8 heap snapshot's memory is: the largest groups of objects by constructor (self size), and
 * the retained size of every instance of the classes that hold state in the operator and the sidecar —
 * what would be freed if that one object went away (objects also reachable another way are not counted),
 * computed exactly as two reachability passes per instance, weak edges ignored, as DevTools does.
 *
 *   node operator/bench/memory/heap-summary.ts <file.heapsnapshot | directory (its newest snapshot)>
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Classes whose instances are worth a retained size (the caches, queues and registries of both processes). */
const holders = [
  'Informer',
  'InformerSet',
  'WorkQueue',
  'Controller',
  'EventRecorder',
  'Discovery',
  'KubeClient',
  'ExecutionEngine',
  'Registry',
  'Scheduler',
  'BatchExecutor',
  'CloneStore',
  'ExecutionIndex',
];

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

let path = process.argv[2] ?? '.';
if (statSync(path).isDirectory()) {
  const newest = readdirSync(path)
    .filter((f) => f.endsWith('.heapsnapshot'))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error(`no .heapsnapshot in ${path}`);
  path = newest;
}
const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const nodeFieldCount = meta.node_fields.length;
const edgeFieldCount = meta.edge_fields.length;
const [typeField, nameField, sizeField, edgeCountField] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  meta.node_fields.indexOf(f),
) as [number, number, number, number];
const [edgeTypeField, edgeNameField, edgeToField] = ['type', 'name_or_index', 'to_node'].map((f) =>
  meta.edge_fields.indexOf(f),
) as [number, number, number];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const weak = edgeTypes.indexOf('weak');
const { nodes, edges, strings } = snap;
const count = nodes.length / nodeFieldCount;

// Each node's first edge, so that edges can be walked per node.
const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += (nodes[i * nodeFieldCount + edgeCountField] as number) * edgeFieldCount;
  firstEdge[i + 1] = e;
}
const size = (i: number) => nodes[i * nodeFieldCount + sizeField] as number;
const name = (i: number) => strings[nodes[i * nodeFieldCount + nameField] as number] as string;
const type = (i: number) => nodeTypes[nodes[i * nodeFieldCount + typeField] as number] as string;

/**
 * Marks what is reachable from `from` (the root, node 0, by default) without passing through `excluded`,
 * and, when `within` is given, only through nodes it marks.
 */
function reachable(excluded: number, from = 0, within?: Uint8Array): Uint8Array {
  const seen = new Uint8Array(count);
  const stack = [from];
  seen[from] = 1;
  if (excluded >= 0) seen[excluded] = 1;
  while (stack.length > 0) {
    const n = stack.pop() as number;
    for (let e = firstEdge[n] as number; e < (firstEdge[n + 1] as number); e += edgeFieldCount) {
      if (edges[e + edgeTypeField] === weak) continue;
      const to = (edges[e + edgeToField] as number) / nodeFieldCount;
      if (!seen[to] && (!within || within[to])) {
        seen[to] = 1;
        stack.push(to);
      }
    }
  }
  return seen;
}

const MB = 2 ** 20;
const live = reachable(-1);
let total = 0;
const groups = new Map<string, { size: number; count: number }>();
for (let i = 0; i < count; i++) {
  if (!live[i]) continue;
  total += size(i);
  const key = type(i) === 'object' || type(i) === 'closure' ? `${type(i)} ${name(i)}` : type(i);
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size(i);
  g.count++;
  groups.set(key, g);
}
console.log(`${path}: ${(total / MB).toFixed(1)} MB reachable in ${count} nodes\n`);
console.log('| objects (constructor, or V8 type) | count | self size |\n|---|---|---|');
for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, 25))
  console.log(`| ${key.slice(0, 80)} | ${g.count} | ${(g.size / MB).toFixed(1)} MB |`);

console.log('\n| instance | retained size |\n|---|---|');
for (let i = 0; i < count; i++) {
  if (!live[i] || type(i) !== 'object' || !holders.includes(name(i))) continue;
  const without = reachable(i);
  // The retained set: what is reachable from the instance and no longer from the root without it.
  const kept = new Uint8Array(count);
  for (let j = 0; j < count; j++) kept[j] = without[j] ? 0 : 1;
  const retainedSet = reachable(-1, i, kept);
  let retained = 0;
  for (let j = 0; j < count; j++) if (retainedSet[j]) retained += size(j);
  // What each holder keeps, by the property that leads to it (its largest fields).
  const fields: string[] = [];
  for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += edgeFieldCount) {
    if (edgeTypes[edges[e + edgeTypeField] as number] !== 'property') continue;
    const to = (edges[e + edgeToField] as number) / nodeFieldCount;
    if (!retainedSet[to]) continue;
    const sub = reachable(-1, to, retainedSet);
    let bytes = 0;
    for (let j = 0; j < count; j++) if (sub[j]) bytes += size(j);
    if (bytes > MB) fields.push(`${strings[edges[e + edgeNameField] as number]} ${(bytes / MB).toFixed(1)} MB`);
  }
  console.log(`| ${name(i)} | ${(retained / MB).toFixed(2)} MB${fields.length ? ` (${fields.join(', ')})` : ''} |`);
}
