// GET /api/auth/me with a signed-in session: Keel on each session backend against a minimal
// Express 5 + express-session app with the same store (the baseline). Also: a raw node:http
// server answering the same bytes (the ceiling), and a minimal NestJS app with the same session
// setup (the framework floor: what Nest itself costs). Servers on core 0, load on core 1
// (taskset); every case runs --runs times after a warm-up, the cases taking turns; medians are
// reported as ratios to the baseline of the same store. Keel runs with its production
// defaults, a log line per request included (LOG_LEVEL info).
//
//   node bench/me.js [--runs 3] [--seconds 8] [--connections 50] [--sessions 1000]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { load, median } from './support/load.js';
import { freshPostgresDatabase } from './support/postgres.js';
import { pinSelf, startServer } from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    sessions: { type: 'string', default: '1000' },
  },
});
const RUNS = Number(options.runs);
const SECONDS = Number(options.seconds);
const CONNECTIONS = Number(options.connections);
const SESSIONS = String(options.sessions);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const here = import.meta.dirname;
pinSelf(1);

/** Starts one case's server and reads the cookies it seeded; checks `me` answers 200. */
async function start(name, script, env, store) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
  const cookiesFile = join(dir, 'cookies.json');
  const server = await startServer(script, {
    env: { DATA_DIR: dir, BENCH_SEED_SESSIONS: SESSIONS, BENCH_COOKIES_FILE: cookiesFile, ...env },
  });
  const cookies = script.includes('raw-http') ? [] : JSON.parse(readFileSync(cookiesFile, 'utf8'));
  const url = `http://127.0.0.1:${server.port}`;
  const check = await fetch(`${url}/api/auth/me`, {
    headers: cookies[0] ? { cookie: cookies[0] } : {},
  });
  if (check.status !== 200) throw new Error(`${name}: me answered ${check.status}`);
  return {
    name,
    store,
    url,
    cookies,
    runs: [],
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const keel = join(here, 'support/keel-bench-server.js');
const baseline = join(here, 'baseline/express-session-server.js');
const prefix = `keel-bench-${process.pid}:`;
const keelEnv = {
  PORT: '0',
  HOST: '127.0.0.1',
  SHUTDOWN_DRAIN_MS: '0',
  NODE_ENV: 'production',
  SESSION_SECRET: 'bench-secret-'.padEnd(48, 'x'),
  REDIS_URL,
  REDIS_PREFIX: prefix,
};
// Every case's server runs at once (idle while another is loaded) and the cases take turns,
// run by run: drift in the machine's speed then hits every case alike, and each ratio is the
// median of same-round ratios against the baseline with the same store.
const database = await freshPostgresDatabase(`keel_bench_${process.pid}`);
const cases = [];
try {
  cases.push(
    await start(
      'raw node:http, same bytes (ceiling)',
      join(here, 'baseline/raw-http-server.js'),
      {},
      'none',
    ),
    await start('Express + express-session, MemoryStore (baseline)', baseline, {}, 'memory'),
    await start(
      'Express + express-session, connect-redis (baseline)',
      baseline,
      { BASELINE_STORE: 'redis', REDIS_URL, REDIS_PREFIX: `${prefix}baseline:` },
      'redis',
    ),
    await start(
      'NestJS + express-session, MemoryStore, one controller (framework floor)',
      join(here, 'baseline/nest-session-server.js'),
      {},
      'memory',
    ),
    await start(
      'Keel, memory backend (SQLite)',
      keel,
      { ...keelEnv, BENCH_BACKEND: 'memory' },
      'memory',
    ),
    await start(
      'Keel, database backend on SQLite',
      keel,
      { ...keelEnv, BENCH_BACKEND: 'database' },
      'memory',
    ),
    await start(
      'Keel, database backend on PostgreSQL',
      keel,
      { ...keelEnv, DATABASE_URL: database.url, BENCH_BACKEND: 'database' },
      'memory',
    ),
    await start(
      'Keel, redis backend (SQLite)',
      keel,
      { ...keelEnv, BENCH_BACKEND: 'redis' },
      'redis',
    ),
  );
  for (const c of cases)
    await load(c.url, { cookies: c.cookies, connections: CONNECTIONS, duration: 3 });
  for (let run = 0; run < RUNS; run++) {
    for (const c of cases) {
      c.runs.push(
        await load(c.url, { cookies: c.cookies, connections: CONNECTIONS, duration: SECONDS }),
      );
    }
  }
} finally {
  for (const c of cases) await c.stop();
  await database.drop();
}

const baselineOf = (store) =>
  cases.find(
    (c) => c.name.includes('baseline') && c.store === (store === 'redis' ? 'redis' : 'memory'),
  );
const results = cases.map((c) => {
  const base = baselineOf(c.store);
  return {
    name: c.name,
    store: c.store,
    rps: median(c.runs.map((r) => r.rps)),
    ratio: median(c.runs.map((r, i) => r.rps / base.runs[i].rps)),
    p99: median(c.runs.map((r) => r.p99)),
    failed: c.runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    runs: c.runs,
  };
});

const redis = createClient({ url: REDIS_URL });
await redis.connect();
for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
  if (keys.length) await redis.del(keys);
await redis.close();

const lines = [
  `GET /api/auth/me, ${CONNECTIONS} connections, ${SECONDS} s x ${RUNS} runs (cases interleaved; medians), ${SESSIONS} sessions`,
  '',
  '| case | req/s | vs Express baseline (same store) | p99 ms | failed |',
  '|---|---|---|---|---|',
  ...results.map(
    (r) => `| ${r.name} | ${r.rps} | ${r.ratio.toFixed(2)}x | ${r.p99} | ${r.failed} |`,
  ),
  '',
  'Database-backend rows are compared with the MemoryStore baseline (express-session has no built-in SQL store).',
];
process.stdout.write(`${lines.join('\n')}\n\nJSON ${JSON.stringify(results)}\n`);
