// Two Keel servers side by side on `me`, taking turns run by run: the way to tell whether one
// change made the request path faster or slower, which me.js's spread between runs hides.
//
//   node bench/ab.js [--runs 5] [--seconds 5] [--backend memory] [--sessions 1000]
//     [--a bundle|unbundled|<path>] [--b bundle|unbundled|<path>]
//     [--a-node-args='<flags>'] [--b-node-args='<flags>'] [--a-env K=V ...] [--b-env K=V ...]
//
// `bundle` is keel-bench-server.js bundled as production runs Keel (the default for a),
// `unbundled` the same over tsc's dist/ (the default for b), a path any keel-bench-server.js,
// such as another checkout's (built there). `--b-node-args='--max-semi-space-size=32'` runs b with
// those Node flags, to A/B a V8 setting on one build; `--b-env LOG_LEVEL=warn` (repeatable) with that
// environment, to price a setting. Prints each round and the median of the same-round
// ratios b / a. Servers on core 0, load on core 1, as in me.js.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { keelBenchServer } from './support/keel-bench-bundle.js';
import { load, median } from './support/load.js';
import { pinSelf, startSeededServer } from './support/processes.js';

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
      NODE_ENV: 'production',
      SHUTDOWN_DRAIN_MS: '0',
      SESSION_SECRET: 'bench-secret-'.padEnd(48, 'x'),
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
try {
  for (const c of cases) await load(c.url, { cookies: c.cookies, duration: 2 }); // warm-up
  for (let run = 0; run < Number(options.runs); run++) {
    // Alternate who goes first, so neither always runs on the warmer machine.
    for (const c of run % 2 ? [...cases].reverse() : cases) {
      const result = await load(c.url, { cookies: c.cookies, duration: Number(options.seconds) });
      if (result.non2xx + result.errors > 0) throw new Error(`${c.choice}: failed requests`);
      c.runs.push(result);
    }
    const [a, b] = cases.map((c) => c.runs.at(-1));
    process.stdout.write(
      `round ${run + 1}: a ${Math.round(a.rps)} req/s p99 ${a.p99} ms | b ${Math.round(b.rps)} req/s p99 ${b.p99} ms | b/a ${(b.rps / a.rps).toFixed(3)}\n`,
    );
  }
} finally {
  for (const c of cases) await c.stop();
}
const ratios = cases[0].runs.map((a, i) => cases[1].runs[i].rps / a.rps);
process.stdout.write(
  `\na = ${options.a}: median ${Math.round(median(cases[0].runs.map((r) => r.rps)))} req/s\n` +
    `b = ${options.b}: median ${Math.round(median(cases[1].runs.map((r) => r.rps)))} req/s\n` +
    `b / a, median of same-round ratios: ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')})\n`,
);
