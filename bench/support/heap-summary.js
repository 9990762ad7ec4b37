// Where a heap goes, from V8 .heapsnapshot files: self size summed by what each node is (an
// object by its constructor, a string or array by the object and property that hold it), so
// "Keel holds 30 MiB more than the baseline" becomes "in which structure". With two files, the
// second minus the first (a diff: before and after load, or baseline against Keel).
//
//   node --max-old-space-size=8192 bench/support/heap-summary.js [--top 30] a.heapsnapshot [b.heapsnapshot]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: options, positionals: files } = parseArgs({
  options: { top: { type: 'string', default: '30' } },
  allowPositionals: true,
});
if (files.length < 1 || files.length > 2) {
  process.stderr.write('usage: heap-summary.js [--top N] a.heapsnapshot [b.heapsnapshot]\n');
  process.exit(2);
}

/** Map of group -> { bytes, count } for one snapshot, and its total self size. */
function summarize(file) {
  const { snapshot, nodes, edges, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: nodeFields, edge_fields: edgeFields } = snapshot.meta;
  const nodeTypes = snapshot.meta.node_types[0];
  const edgeTypes = snapshot.meta.edge_types[0];
  const N = nodeFields.length;
  const E = edgeFields.length;
  const typeOf = nodeFields.indexOf('type');
  const nameOf = nodeFields.indexOf('name');
  const sizeOf = nodeFields.indexOf('self_size');
  const edgeCountOf = nodeFields.indexOf('edge_count');
  const edgeTypeOf = edgeFields.indexOf('type');
  const edgeNameOf = edgeFields.indexOf('name_or_index');
  const edgeToOf = edgeFields.indexOf('to_node');
  const count = nodes.length / N;

  // The first strong owner of each node (not a weak or shortcut edge), and the edge's name:
  // enough to tell a session's JSON from a log line's.
  const owner = new Int32Array(count).fill(-1);
  const ownerEdge = new Array(count);
  let edgeIndex = 0;
  for (let node = 0; node < count; node++) {
    const edgesOfNode = nodes[node * N + edgeCountOf];
    for (let i = 0; i < edgesOfNode; i++, edgeIndex += E) {
      const type = edgeTypes[edges[edgeIndex + edgeTypeOf]];
      if (type === 'weak' || type === 'shortcut') continue;
      const to = edges[edgeIndex + edgeToOf] / N;
      if (owner[to] !== -1) continue;
      owner[to] = node;
      const name = edges[edgeIndex + edgeNameOf];
      ownerEdge[to] =
        type === 'element' || type === 'hidden' ? `[${type}]` : String(strings[name] ?? name);
    }
  }

  const label = (node) => {
    const type = nodeTypes[nodes[node * N + typeOf]];
    const name = strings[nodes[node * N + nameOf]];
    if (type === 'object' || type === 'closure')
      return `${type === 'closure' ? 'closure ' : ''}${name}`;
    return `(${type}) ${type === 'hidden' || type === 'code' ? name.slice(0, 40) : ''}`.trim();
  };
  const anonymous = (node) => {
    const type = nodeTypes[nodes[node * N + typeOf]];
    if (type === 'object') return strings[nodes[node * N + nameOf]] === 'Object';
    return /string|number|array|hidden/.test(type);
  };
  const groups = new Map();
  let total = 0;
  for (let node = 0; node < count; node++) {
    const size = nodes[node * N + sizeOf];
    total += size;
    let key = label(node);
    // A string, number or array says little by itself (nor does a plain Object): name it by the
    // first owner up the chain that is none of these (a plain Object ends the walk too, as it
    // is usually the record that holds the value), and the property it hangs on.
    if (anonymous(node)) {
      let child = node;
      let parent = owner[node];
      const walkOn = (candidate) =>
        candidate !== -1 &&
        anonymous(candidate) &&
        nodeTypes[nodes[candidate * N + typeOf]] !== 'object';
      for (let depth = 0; depth < 64 && walkOn(parent); depth++) {
        child = parent;
        parent = owner[parent];
      }
      // A property named by an id (MemoryStore keys its object by session id) is one group.
      const edge = /^[\w-]{20,}$/.test(ownerEdge[child]) ? '<id>' : ownerEdge[child];
      key += parent === -1 ? ' <- (none)' : ` <- ${label(parent)}.${edge}`;
    }
    const group = groups.get(key) ?? { bytes: 0, count: 0 };
    group.bytes += size;
    group.count += 1;
    groups.set(key, group);
  }
  return { groups, total };
}

const mib = (bytes) => (bytes / 1024 / 1024).toFixed(2);
const top = Number(options.top);
const first = summarize(files[0]);
if (files.length === 1) {
  process.stdout.write(`${files[0]}: ${mib(first.total)} MiB self size in all\n`);
  const rows = [...first.groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  for (const [key, { bytes, count }] of rows)
    process.stdout.write(`${mib(bytes).padStart(9)} MiB ${String(count).padStart(9)}  ${key}\n`);
} else {
  const second = summarize(files[1]);
  process.stdout.write(
    `${files[1]} - ${files[0]}: ${mib(second.total - first.total)} MiB (${mib(first.total)} -> ${mib(second.total)})\n`,
  );
  const keys = new Set([...first.groups.keys(), ...second.groups.keys()]);
  const rows = [...keys]
    .map((key) => {
      const a = first.groups.get(key) ?? { bytes: 0, count: 0 };
      const b = second.groups.get(key) ?? { bytes: 0, count: 0 };
      return { key, bytes: b.bytes - a.bytes, count: b.count - a.count };
    })
    .sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes))
    .slice(0, top);
  for (const { key, bytes, count } of rows)
    process.stdout.write(`${mib(bytes).padStart(9)} MiB ${String(count).padStart(9)}  ${key}\n`);
}
