// Two servers side by side on `me`, taking turns run by run: the way to tell whether one change
// made the request path faster or slower, which me.js's spread between runs hides.
//
//   node bench/ab.js [--runs 5] [--seconds 5] [--backend memory] [--sessions 1000] [--rate N]
//     [--a bundle|unbundled|<path>] [--b bundle|unbundled|<path>]
//     [--a-node-args='<flags>'] [--b-node-args='<flags>'] [--a-env K=V ...] [--b-env K=V ...]
//
// `bundle` is keel-bench-server.js bundled as production runs Keel (the default for a),
// `unbundled` the same over tsc's dist/ (the default for b), a path any bench server: another
// checkout's keel-bench-server.js (built there), or a baseline (bench/baseline/*.js; its store
// from `--a-env BASELINE_STORE=redis`). `--b-node-args='--max-semi-space-size=32'` runs b with
// those Node flags, to A/B a V8 setting on one build; `--b-env LOG_LEVEL=warn` (repeatable) with
// that environment, to price a setting. Prints each round and the median of the same-round
// ratios b / a of req/s; with `--rate N`, both get N req/s and the ratio is of CPU time per
// request, a / b. Servers on core 0, load on core 1, as in me.js. A server on PostgreSQL is
// given its database (`--b-env DATABASE_URL=...`): the one this process runs with is not passed
// on (support/processes.js).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KEEL_BENCH_ENV, keelBenchServer } from './support/keel-bench-bundle.js';
import { load, median } from './support/load.js';
import { cpuMicros, pinSelf, startSeededServer } from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'memory' },
    sessions: { type: 'string', default: '1000' },
    a: { type: 'string', default: 'bundle' },
    b: { type: 'string', default: 'unbundled' },
    'a-node-args': { type: 'string', default: '' },
    'b-node-args': { type: 'string', default: '' },
    // A fixed offered load (req/s, below both servers' capacity) instead of as fast as they go:
    // then each server's CPU time per request is compared (see below).
    rate: { type: 'string', default: '' },
    'a-env': { type: 'string', multiple: true, default: [] },
    'b-env': { type: 'string', multiple: true, default: [] },
  },
});
pinSelf(1);

async function script(choice) {
  if (choice === 'bundle') return keelBenchServer(true);
  if (choice === 'unbundled') return keelBenchServer(false);
  return resolve(choice);
}

/** `['LOG_LEVEL=warn']` as `{ LOG_LEVEL: 'warn' }`. */
function envOf(pairs) {
  return Object.fromEntries(
    pairs.map((pair) => [pair.split('=')[0], pair.slice(pair.indexOf('=') + 1)]),
  );
}

async function start(choice, nodeArgs, extraEnv) {
  const server = await startSeededServer(await script(choice), {
    sessions: options.sessions,
    nodeArgs: nodeArgs.split(' ').filter(Boolean),
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      ...KEEL_BENCH_ENV,
      BENCH_BACKEND: options.backend,
      ...extraEnv,
    },
  });
  return { ...server, choice, runs: [] };
}

const cases = [
  await start(options.a, options['a-node-args'], envOf(options['a-env'])),
  await start(options.b, options['b-node-args'], envOf(options['b-env'])),
];
const RATE = Number(options.rate) || undefined;

/** One measured run of `c`: load()'s answer plus the server's CPU µs per request. */
async function measure(c) {
  const cpuBefore = cpuMicros(c.pid);
  const result = await load(c.url, {
    cookies: c.cookies,
    duration: Number(options.seconds),
    overallRate: RATE,
  });
  if (result.non2xx + result.errors > 0) throw new Error(`${c.choice}: failed requests`);
  return { ...result, cpuPerRequest: (cpuMicros(c.pid) - cpuBefore) / result.requests };
}

/**
 * b against a in one round: req/s b / a; at a fixed rate both serve the same requests, so
 * throughput says nothing and the ratio is of CPU per request, a / b, which reads the same way
 * (above 1: b does the same work for less).
 */
function ratioOf(a, b) {
  return RATE ? a.cpuPerRequest / b.cpuPerRequest : b.rps / a.rps;
}

try {
  for (const c of cases) await load(c.url, { cookies: c.cookies, duration: 2 }); // warm-up
  for (let run = 0; run < Number(options.runs); run++) {
    // Alternate who goes first, so neither always runs on the warmer machine.
    for (const c of run % 2 ? [...cases].reverse() : cases) c.runs.push(await measure(c));
    const [a, b] = cases.map((c) => c.runs.at(-1));
    const side = (r) =>
      `${Math.round(r.rps)} req/s p99 ${r.p99} ms ${Math.round(r.cpuPerRequest)} µs CPU/req`;
    process.stdout.write(
      `round ${run + 1}: a ${side(a)} | b ${side(b)} | ${RATE ? 'CPU a/b' : 'b/a'} ${ratioOf(a, b).toFixed(3)}\n`,
    );
  }
} finally {
  for (const c of cases) await c.stop();
}
const ratios = cases[0].runs.map((a, i) => ratioOf(a, cases[1].runs[i]));
const summary = (c) =>
  `median ${Math.round(median(c.runs.map((r) => r.rps)))} req/s, ${Math.round(median(c.runs.map((r) => r.cpuPerRequest)))} µs CPU/request`;
process.stdout.write(
  `\nNode ${process.version}\na = ${options.a}: ${summary(cases[0])}\n` +
    `b = ${options.b}: ${summary(cases[1])}\n` +
    `${RATE ? `at ${RATE} req/s, CPU per request a / b` : 'b / a req/s'}, median of same-round ratios: ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')})\n`,
);
