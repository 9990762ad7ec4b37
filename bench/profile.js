// Where the time of one `GET /api/auth/me` goes, Keel (memory backend) against a baseline on
// MemoryStore (bare Express; `--baseline floor`: the NestJS framework floor): each server is
// CPU-profiled during the same load, its CPU time per request read from /proc, and the
// profile's self time split by package into microseconds per request. Printed sorted by what
// Keel spends beyond the baseline: docs/performance.md's table. `--allocations` adds bytes
// allocated per request by function; `--survivors` counts only what outlived a young-generation
// collection (how docs/performance.md found the cost of Express's prototype switch). The heap
// sampler runs during the CPU profile and slows the server: with either, read the bytes, not the
// microseconds.
//
//   node bench/profile.js [--seconds 8] [--connections 50] [--top 25] [--baseline express|floor]
//                         [--functions] [--allocations] [--survivors]
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { load } from './support/load.js';
import { KEEL_BENCH_ENV } from './support/keel-bench-bundle.js';
import { cpuMicros, pinSelf, startSeededServer } from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '25' },
    // Also list the functions with the most self time (Keel's own and the rest), for finding
    // what to cut inside a package.
    functions: { type: 'boolean', default: false },
    baseline: { type: 'string', default: 'express' },
    // Also sample allocations (V8's sampling heap profiler) and list the functions that
    // allocate the most bytes per request; with --survivors, only what outlived a
    // young-generation collection (what the old generation and full collections pay for).
    allocations: { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
  },
});
const BASELINES = {
  express: ['Express + express-session (MemoryStore)', 'baseline/express-session-server.js'],
  floor: ['NestJS + express-session (MemoryStore)', 'baseline/nest-session-server.js'],
};
if (!BASELINES[options.baseline]) throw new Error(`--baseline: express or floor`);
const SECONDS = Number(options.seconds);
const CONNECTIONS = Number(options.connections);
const here = import.meta.dirname;
pinSelf(1);

async function profileCase(name, script, env) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-profile-'));
  const profileFile = join(dir, 'cpu.cpuprofile');
  const heapFile = join(dir, 'heap.heapprofile');
  const sampling = options.allocations || options.survivors;
  const server = await startSeededServer(script, {
    dir,
    sessions: 1000,
    env: {
      BENCH_CPU_PROFILE: profileFile,
      ...(sampling ? { BENCH_HEAP_SAMPLING: heapFile } : {}),
      ...(options.survivors ? { BENCH_HEAP_SURVIVORS: '1' } : {}),
      ...env,
    },
  });
  try {
    const { url, cookies } = server;
    await load(url, { cookies, connections: CONNECTIONS, duration: 3 });
    process.kill(server.pid, 'SIGUSR2');
    await sleep(200);
    const cpuBefore = cpuMicros(server.pid);
    const result = await load(url, { cookies, connections: CONNECTIONS, duration: SECONDS });
    const cpuPerRequest = (cpuMicros(server.pid) - cpuBefore) / result.requests;
    process.kill(server.pid, 'SIGUSR2');
    for (let i = 0; i < 100; i++) {
      try {
        const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
        const heap = sampling ? JSON.parse(readFileSync(heapFile, 'utf8')) : undefined;
        return {
          name,
          rps: result.rps,
          cpuPerRequest,
          byPackage: selfTimeByPackage(profile),
          byFunction: selfTimeByFunction(profile),
          allocations: heap && bytesPerRequestByFunction(heap, result.requests),
        };
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`${name}: no profile written`);
  } finally {
    await server.stop();
  }
}

/** Share of busy (non-idle) samples per package: node_modules name, node core area, or Keel. */
function selfTimeByPackage(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url } = nodes.get(id).callFrame;
    if (functionName === '(idle)' || functionName === '(root)') return;
    const key = packageOf(functionName, url);
    const micros = profile.timeDeltas[i];
    totals.set(key, (totals.get(key) ?? 0) + micros);
    busy += micros;
  });
  return new Map([...totals].map(([key, micros]) => [key, micros / busy]));
}

/** Share of busy samples per function (`name file:line`). */
function selfTimeByFunction(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const { callFrame } = nodes.get(id);
    if (callFrame.functionName === '(idle)' || callFrame.functionName === '(root)') return;
    const key = functionKey(callFrame);
    const micros = profile.timeDeltas[i];
    totals.set(key, (totals.get(key) ?? 0) + micros);
    busy += micros;
  });
  return new Map([...totals].map(([key, micros]) => [key, micros / busy]));
}

/** A profile frame's function as the tables name it: `name file:line`, paths from the package. */
function functionKey({ functionName, url, lineNumber }) {
  const file = url.replace(/^.*\/(node_modules|dist)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

/** Sampled bytes allocated per request, by allocating function (`name file:line`). */
function bytesPerRequestByFunction(heapProfile, requests) {
  const totals = new Map();
  const visit = (node) => {
    const key = functionKey(node.callFrame);
    totals.set(key, (totals.get(key) ?? 0) + node.selfSize / requests);
    node.children.forEach(visit);
  };
  visit(heapProfile.head);
  return totals;
}

function packageOf(functionName, url) {
  const module = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return module[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url.includes('/dist/')) return 'Keel (dist/)';
  if (url.includes('/bench/')) return 'bench server';
  // Native frames: (garbage collector), (program), writev, ...
  return functionName || '(native)';
}

const keel = await profileCase('Keel', join(here, 'support/keel-bench-server.js'), KEEL_BENCH_ENV);
const [baselineName, baselineScript] = BASELINES[options.baseline];
const baseline = await profileCase(baselineName, join(here, baselineScript), {});

const micros = (c, key) => (c.byPackage.get(key) ?? 0) * c.cpuPerRequest;
const keys = [...new Set([...keel.byPackage.keys(), ...baseline.byPackage.keys()])].sort(
  (a, b) => micros(keel, b) - micros(baseline, b) - (micros(keel, a) - micros(baseline, a)),
);
const fmt = (n) => n.toFixed(1);
const lines = [
  `CPU per GET /api/auth/me on Node ${process.version}, ${CONNECTIONS} connections, ${SECONDS} s each, self time by package`,
  '',
  `| where | Keel µs/request | baseline µs/request | Keel - baseline |`,
  '|---|---|---|---|',
  `| **all** (${keel.rps} vs ${baseline.rps} req/s) | ${fmt(keel.cpuPerRequest)} | ${fmt(baseline.cpuPerRequest)} | ${fmt(keel.cpuPerRequest - baseline.cpuPerRequest)} |`,
  ...keys
    .slice(0, Number(options.top))
    .map(
      (key) =>
        `| ${key} | ${fmt(micros(keel, key))} | ${fmt(micros(baseline, key))} | ${fmt(micros(keel, key) - micros(baseline, key))} |`,
    ),
];
if (options.functions) {
  const top = [...keel.byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(options.top))
    .map(([key, share]) => `| ${key} | ${fmt(share * keel.cpuPerRequest)} |`);
  lines.push(
    '',
    'Keel, self time by function',
    '',
    '| function | µs/request |',
    '|---|---|',
    ...top,
  );
}
if (keel.allocations) {
  const total = (c) => [...c.allocations.values()].reduce((sum, bytes) => sum + bytes, 0);
  const bytes = (c, key) => Math.round(c.allocations.get(key) ?? 0);
  const top = [...keel.allocations.keys()]
    .sort((a, b) => bytes(keel, b) - bytes(keel, a))
    .slice(0, Number(options.top));
  lines.push(
    '',
    `Bytes allocated per request${options.survivors ? ' that outlived a young-generation collection' : ''} (sampled), by function`,
    '',
    `| function | Keel | baseline |`,
    '|---|---|---|',
    `| **all** | ${Math.round(total(keel))} | ${Math.round(total(baseline))} |`,
    ...top.map((key) => `| ${key} | ${bytes(keel, key)} | ${bytes(baseline, key)} |`),
  );
}
const json = { keel, baseline };
for (const c of [keel, baseline]) {
  c.byPackage = Object.fromEntries(c.byPackage);
  delete c.byFunction;
  delete c.allocations;
}
process.stdout.write(`${lines.join('\n')}\n\nJSON ${JSON.stringify(json)}\n`);
