// GET /api/auth/me with a signed-in session: Keel on each session backend against a minimal
// Express 5 + express-session app with the same store (the baseline), and a raw node:http server
// answering the same bytes (the ceiling). Server on core 0, load on core 1 (taskset), every case
// run --runs times after a warm-up, medians reported as ratios to the baseline of the same store.
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

async function measure(name, script, env, store) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
  const cookiesFile = join(dir, 'cookies.json');
  const server = await startServer(script, {
    env: { DATA_DIR: dir, BENCH_SEED_SESSIONS: SESSIONS, BENCH_COOKIES_FILE: cookiesFile, ...env },
  });
  const cookies = script.includes('raw-http') ? [] : JSON.parse(readFileSync(cookiesFile, 'utf8'));
  const url = `http://127.0.0.1:${server.port}`;
  try {
    const check = await fetch(`${url}/api/auth/me`, {
      headers: cookies[0] ? { cookie: cookies[0] } : {},
    });
    if (check.status !== 200) throw new Error(`${name}: me answered ${check.status}`);
    await load(url, { cookies, connections: CONNECTIONS, duration: 3 });
    const runs = [];
    for (let run = 0; run < RUNS; run++) {
      runs.push(await load(url, { cookies, connections: CONNECTIONS, duration: SECONDS }));
    }
    const failed = runs.reduce((n, r) => n + r.non2xx + r.errors, 0);
    return {
      name,
      store,
      rps: median(runs.map((r) => r.rps)),
      p99: median(runs.map((r) => r.p99)),
      failed,
      runs,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const keel = join(here, 'support/keel-bench-server.js');
const baseline = join(here, 'baseline/express-session-server.js');
const prefix = `keel-bench-${process.pid}:`;
const keelEnv = {
  LOG_LEVEL: 'warn',
  SHUTDOWN_DRAIN_MS: '0',
  NODE_ENV: 'production',
  SESSION_SECRET: 'bench-secret-'.padEnd(48, 'x'),
  REDIS_URL,
  REDIS_PREFIX: prefix,
};
const results = [];
results.push(
  await measure(
    'raw node:http, same bytes (ceiling)',
    join(here, 'baseline/raw-http-server.js'),
    {},
    'none',
  ),
);
results.push(
  await measure('Express + express-session, MemoryStore (baseline)', baseline, {}, 'memory'),
);
results.push(
  await measure(
    'Express + express-session, connect-redis (baseline)',
    baseline,
    { BASELINE_STORE: 'redis', REDIS_URL, REDIS_PREFIX: `${prefix}baseline:` },
    'redis',
  ),
);
results.push(
  await measure(
    'Keel, memory backend (SQLite)',
    keel,
    { ...keelEnv, BENCH_BACKEND: 'memory' },
    'memory',
  ),
);
results.push(
  await measure(
    'Keel, database backend on SQLite',
    keel,
    { ...keelEnv, BENCH_BACKEND: 'database' },
    'memory',
  ),
);
const database = await freshPostgresDatabase(`keel_bench_${process.pid}`);
try {
  results.push(
    await measure(
      'Keel, database backend on PostgreSQL',
      keel,
      { ...keelEnv, DATABASE_URL: database.url, BENCH_BACKEND: 'database' },
      'memory',
    ),
  );
} finally {
  await database.drop();
}
results.push(
  await measure(
    'Keel, redis backend (SQLite)',
    keel,
    { ...keelEnv, BENCH_BACKEND: 'redis' },
    'redis',
  ),
);

const redis = createClient({ url: REDIS_URL });
await redis.connect();
for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
  if (keys.length) await redis.del(keys);
await redis.close();

const baselineOf = (store) =>
  results.find(
    (r) => r.name.includes('baseline') && r.store === (store === 'redis' ? 'redis' : 'memory'),
  );
const lines = [
  `GET /api/auth/me, ${CONNECTIONS} connections, ${SECONDS} s x ${RUNS} runs (median), ${SESSIONS} sessions`,
  '',
  '| case | req/s | vs Express baseline (same store) | p99 ms | failed |',
  '|---|---|---|---|---|',
  ...results.map((r) => {
    const base = baselineOf(r.store);
    return `| ${r.name} | ${r.rps} | ${(r.rps / base.rps).toFixed(2)}x | ${r.p99} | ${r.failed} |`;
  }),
  '',
  'Database-backend rows are compared with the MemoryStore baseline (express-session has no built-in SQL store).',
];
process.stdout.write(`${lines.join('\n')}\n\nJSON ${JSON.stringify(results)}\n`);
