// Where a process's heap goes: reads a V8 .heapsnapshot (bench/operator.ts HEAP_SNAPSHOT=ms with
// OPERATOR_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR") and prints self size by node
// type and constructor, largest first. Self sizes only (no retained sizes): enough to see whether memory
// is code, strings, or objects of one kind, and how many of each.
//   npx node bench/heap-summary.ts DIR/Heap.*.heapsnapshot [TOP=25]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [TOP]');
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
  number,
  number,
  number,
];
const byKey = new Map<string, { size: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += fields.length) {
  const type = types[snap.nodes[i + typeAt]!]!;
  const size = snap.nodes[i + sizeAt]!;
  const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!] : '';
  const key = name ? `${type} ${name}` : type;
  const entry = byKey.get(key) ?? { size: 0, count: 0 };
  entry.size += size;
  entry.count++;
  byKey.set(key, entry);
  total += size;
}
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.log(`total self size ${mib(total)} in ${snap.nodes.length / fields.length} nodes`);
for (const [key, { size, count }] of [...byKey].sort((a, b) => b[1].size - a[1].size).slice(0, Number(topArg ?? 25))) {
  console.log(`${mib(size).padStart(10)}  ${String(count).padStart(9)}  ${key}`);
}
