// Live swap of the session cache under load: N live sessions on `memory`, clients hitting
// GET /api/auth/me continuously, swap to `redis` (or `database`) through PATCH /api/settings.
// Reports the swap duration, failed requests during it, and p99 latency during the swap against
// before it, with a plain Express + express-session baseline measured in the same run. "During
// the swap" is from the PATCH sent to its answer: the requests in flight at some moment of it.
//
//   node bench/swap.js [--sessions 10000] [--connections 50] [--to redis|database]
//                      [--postgres]          (after `npm run build`)
//
// --to database --postgres: Keel's own database (and so the sessions table) on a fresh
// PostgreSQL database on the server DATABASE_URL names; without --postgres, SQLite.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { load, median } from './support/load.js';
import { freshPostgresDatabase } from './support/postgres.js';
import { KEEL_BENCH_ENV, keelBenchServer } from './support/keel-bench-bundle.js';
import { pinSelf, startSeededServer } from './support/processes.js';
import { clearRedisPrefix } from './support/redis.js';

const { values: options } = parseArgs({
  options: {
    // tsc's files under dist/ instead of the bundle production runs (deploy/bundle.js).
    unbundled: { type: 'boolean', default: false },
    sessions: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    to: { type: 'string', default: 'redis' },
    postgres: { type: 'boolean', default: false },
  },
});
const TARGET = options.to;
if (TARGET !== 'redis' && TARGET !== 'database') throw new Error('--to: redis or database');
const SESSIONS = Number(options.sessions);
const CONNECTIONS = Number(options.connections);
const SECONDS = Number(options.seconds);
const RUNS = Number(options.runs);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const here = import.meta.dirname;

pinSelf(1);

async function signIn(url, username, password) {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
  const { csrfToken } = await response.json();
  return { cookie: response.headers.getSetCookie()[0].split(';')[0], csrfToken };
}

async function swapTo(url, admin, backend) {
  const current = await fetch(`${url}/api/settings`, { headers: { cookie: admin.cookie } });
  const from = performance.now();
  const response = await fetch(`${url}/api/settings`, {
    method: 'PATCH',
    headers: {
      cookie: admin.cookie,
      'x-csrf-token': admin.csrfToken,
      'if-match': current.headers.get('etag'),
      'content-type': 'application/json',
    },
    body: JSON.stringify({ values: { sessionCache: { backend } } }),
  });
  const to = performance.now();
  if (response.status !== 200)
    throw new Error(`swap refused: ${response.status} ${await response.text()}`);
  const runtime = await fetch(`${url}/api/runtime`, { headers: { cookie: admin.cookie } });
  return { window: { from, to }, lastSwap: (await runtime.json()).sessionCache.lastSwap };
}

async function countValid(url, cookies) {
  let valid = 0;
  for (let i = 0; i < cookies.length; i += 100) {
    const answers = await Promise.all(
      cookies
        .slice(i, i + 100)
        .map((cookie) => fetch(`${url}/api/auth/me`, { headers: { cookie } })),
    );
    valid += answers.filter((answer) => answer.status === 200).length;
    await Promise.all(answers.map((answer) => answer.arrayBuffer()));
  }
  return valid;
}

const results = { baseline: [], before: [], during: [], swaps: [] };

// Baseline: Express + express-session (memory store), same sessions, same route.
{
  const server = await startSeededServer(join(here, 'baseline/express-session-server.js'), {
    sessions: SESSIONS,
    env: { PORT: '0' },
  });
  const { cookies, url } = server;
  await load(url, { cookies, connections: CONNECTIONS, duration: 2 }); // warm-up
  for (let run = 0; run < RUNS; run++) {
    results.baseline.push(
      await load(url, { cookies, connections: CONNECTIONS, duration: SECONDS }),
    );
  }
  await server.stop();
}

for (let run = 0; run < RUNS; run++) {
  const prefix = `keel-bench-${process.pid}-${run}:`;
  const database = options.postgres
    ? await freshPostgresDatabase(`keel_bench_swap_${process.pid}_${run}`)
    : undefined;
  const server = await startSeededServer(await keelBenchServer(!options.unbundled), {
    sessions: SESSIONS,
    env: {
      PORT: '0',
      ...(database ? { DATABASE_URL: database.url } : {}),
      REDIS_URL,
      BENCH_BACKEND: 'memory',
      REDIS_PREFIX: prefix,
      ...KEEL_BENCH_ENV,
    },
  });
  const { cookies, url } = server;
  const admin = await signIn(url, server.admin.username, server.admin.password);
  await load(url, { cookies, connections: CONNECTIONS, duration: 2 }); // warm-up
  results.before.push(await load(url, { cookies, connections: CONNECTIONS, duration: SECONDS }));

  const swap = swapTo(url, admin, TARGET);
  const during = await load(url, {
    cookies,
    connections: CONNECTIONS,
    duration: 120,
    during: swap.then((done) => done.window),
  });
  const { lastSwap } = await swap;
  const valid = await countValid(url, cookies);
  results.during.push(during);
  results.swaps.push({ ...lastSwap, validAfter: valid });

  await server.stop();
  await database?.drop();
  await clearRedisPrefix(REDIS_URL, prefix);
}

// Each run's p99 during the swap over its own p99 before it, so that a run on a slow minute
// is compared with itself.
const p99Ratios = results.during.map((run, i) => run.p99 / results.before[i].p99);
const pick = (runs, key) => median(runs.map((r) => r[key]));
const baselineRps = pick(results.baseline, 'rps');
const baselineP99 = pick(results.baseline, 'p99');
const row = (name, runs) =>
  `| ${name} | ${pick(runs, 'rps')} | ${(pick(runs, 'rps') / baselineRps).toFixed(2)}x | ${pick(runs, 'p99')} | ${(pick(runs, 'p99') / baselineP99).toFixed(2)}x | ${runs.reduce((n, r) => n + r.non2xx + r.errors, 0)} |`;
const lines = [
  `Node ${process.version}: session-cache swap memory -> ${TARGET}${options.postgres ? ' (PostgreSQL)' : ''}: ${SESSIONS} live sessions, ${CONNECTIONS} connections, median of ${RUNS} runs`,
  '',
  '| case | req/s | vs baseline | p99 ms | vs baseline | failed |',
  '|---|---|---|---|---|---|',
  row('Express + express-session (memory), baseline', results.baseline),
  row('Keel me, memory, before the swap', results.before),
  row('Keel me, during the swap', results.during),
  '',
  `swap duration: median ${median(results.swaps.map((s) => s.durationMs))} ms (runs: ${results.swaps.map((s) => s.durationMs).join(', ')})`,
  `sessions migrated: ${results.swaps.map((s) => s.migrated).join(', ')}; valid after the swap: ${results.swaps.map((s) => s.validAfter).join(', ')} of ${SESSIONS}`,
  `failed requests during the swap: ${results.during.map((r) => r.non2xx + r.errors).join(', ')}`,
  `p99 during the swap vs before: median of the runs ${median(p99Ratios).toFixed(2)}x (runs: ${p99Ratios.map((r) => `${r.toFixed(2)}x`).join(', ')})`,
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(
  `\nJSON ${JSON.stringify({ sessions: SESSIONS, connections: CONNECTIONS, ...results })}\n`,
);
