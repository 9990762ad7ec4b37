// GET /api/auth/me with a signed-in session: Keel on each session backend against three
// baselines on the same session store (MemoryStore, connect-redis, connect-pg-simple): a minimal
// Express 5 + express-session app (bare Express), a minimal NestJS app with the same session
// setup (the framework floor: what Nest itself costs), and the feature-equivalent Express stack
// a team assembles by hand (bench/baseline/feature-stack-server.js). Also a raw node:http server
// answering the same bytes (the ceiling). Servers on core 0, load on core 1 (taskset); every
// case runs --runs times after a warm-up, the cases taking turns; medians are reported as
// ratios to the baselines of the same store, then Keel against the feature stack and the floor
// per store (issue 20's targets). Keel runs with its production defaults, a log line per
// request included (LOG_LEVEL info).
//
//   node bench/me.js [--runs 3] [--seconds 8] [--connections 50] [--sessions 1000]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { load, median } from './support/load.js';
import { clearRedisPrefix } from './support/redis.js';
import { freshPostgresDatabase } from './support/postgres.js';
import { KEEL_BENCH_ENV, keelBenchServer } from './support/keel-bench-bundle.js';
import { pinSelf, startSeededServer } from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    // tsc's files under dist/ instead of the bundle production runs (deploy/bundle.js).
    unbundled: { type: 'boolean', default: false },
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

/**
 * Starts one case's server and reads the cookies it seeded; checks `me` answers 200. `store` is
 * the session store the case is compared on, `role` what it is (ceiling, bare, floor, feature,
 * keel).
 */
async function start(name, script, env, { store, role }) {
  const server = await startSeededServer(script, { sessions: SESSIONS, env });
  const check = await fetch(`${server.url}/api/auth/me`, {
    headers: server.cookies[0] ? { cookie: server.cookies[0] } : {},
  });
  if (check.status !== 200) throw new Error(`${name}: me answered ${check.status}`);
  return { ...server, name, store, role, runs: [] };
}

const keel = await keelBenchServer(!options.unbundled);
const prefix = `keel-bench-${process.pid}:`;
const keelEnv = {
  PORT: '0',
  HOST: '127.0.0.1',
  ...KEEL_BENCH_ENV,
  REDIS_URL,
  REDIS_PREFIX: prefix,
};
// The Express and NestJS baselines, each on every store (bench/baseline/session-setup.js).
const BASELINES = [
  { role: 'bare', name: 'Express + express-session', script: 'express-session-server.js' },
  {
    role: 'floor',
    name: 'NestJS + express-session, one controller (framework floor)',
    script: 'nest-session-server.js',
  },
  {
    role: 'feature',
    name: 'Express feature stack (helmet, pino-http, prom-bundle, passport, csrf-sync)',
    script: 'feature-stack-server.js',
  },
];
// Every case's server runs at once (idle while another is loaded) and the cases take turns,
// run by run: drift in the machine's speed then hits every case alike, and each ratio is the
// median of same-round ratios against the case it is compared with.
const database = await freshPostgresDatabase(`keel_bench_${process.pid}`);
// The Express and NestJS baselines on PostgreSQL share one database (connect-pg-simple's
// `session` table, the feature stack's `users`); each seeds its own sessions.
const stacksDatabase = await freshPostgresDatabase(`keel_bench_stacks_${process.pid}`);
const STORES = {
  memory: { label: 'MemoryStore', env: {} },
  redis: { label: 'connect-redis', env: { BASELINE_STORE: 'redis', REDIS_URL } },
  postgres: {
    label: 'connect-pg-simple',
    env: { BASELINE_STORE: 'postgres', DATABASE_URL: stacksDatabase.url },
  },
};
// Keel's cases, by the store their row is compared on. The database backend on SQLite has no
// express-session store to match: it is compared with the MemoryStore cases.
const KEEL = [
  { name: 'Keel, memory backend (SQLite)', store: 'memory', env: { BENCH_BACKEND: 'memory' } },
  { name: 'Keel, database backend on SQLite', store: 'memory', env: { BENCH_BACKEND: 'database' } },
  { name: 'Keel, redis backend (SQLite)', store: 'redis', env: { BENCH_BACKEND: 'redis' } },
  {
    name: 'Keel, database backend on PostgreSQL',
    store: 'postgres',
    env: { BENCH_BACKEND: 'database', DATABASE_URL: database.url },
  },
];
const cases = [];
try {
  cases.push(
    await start(
      'raw node:http, same bytes (ceiling)',
      join(here, 'baseline/raw-http-server.js'),
      {},
      { store: 'none', role: 'ceiling' },
    ),
  );
  for (const [store, { label, env }] of Object.entries(STORES)) {
    for (const { role, name, script } of BASELINES) {
      cases.push(
        await start(
          `${name}, ${label}`,
          join(here, 'baseline', script),
          { ...env, REDIS_PREFIX: `${prefix}${role}:` },
          { store, role },
        ),
      );
    }
    for (const k of KEEL.filter((k) => k.store === store)) {
      cases.push(await start(k.name, keel, { ...keelEnv, ...k.env }, { store, role: 'keel' }));
    }
  }
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
  await stacksDatabase.drop();
}

/** The median of same-round ratios of `a`'s req/s to `b`'s. */
const ratio = (a, b) => median(a.runs.map((r, i) => r.rps / b.runs[i].rps));
/** The `role` case on `store` (the ceiling is compared on MemoryStore). */
const caseOf = (role, store) =>
  cases.find((c) => c.role === role && c.store === (store === 'none' ? 'memory' : store));
const results = cases.map((c) => {
  const against = Object.fromEntries(
    ['bare', 'floor', 'feature'].map((role) => [role, ratio(c, caseOf(role, c.store))]),
  );
  return {
    name: c.name,
    store: c.store,
    role: c.role,
    rps: median(c.runs.map((r) => r.rps)),
    against,
    p99: median(c.runs.map((r) => r.p99)),
    failed: c.runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    runs: c.runs,
  };
});
const keelCase = (name) => cases.find((c) => c.name === name);
const keelOn = {
  memory: keelCase('Keel, memory backend (SQLite)'),
  redis: keelCase('Keel, redis backend (SQLite)'),
  postgres: keelCase('Keel, database backend on PostgreSQL'),
};
// Issue 20's targets: Keel at least 1.5x the feature stack (memory, Redis; ahead of it on
// PostgreSQL), at least 0.85x the framework floor, the database backend on PostgreSQL at least
// 0.85x of the memory backend.
const targets = {
  ...Object.fromEntries(
    Object.entries(keelOn).map(([store, c]) => [
      store,
      { vsFeature: ratio(c, caseOf('feature', store)), vsFloor: ratio(c, caseOf('floor', store)) },
    ]),
  ),
  postgresVsMemory: ratio(keelOn.postgres, keelOn.memory),
};

await clearRedisPrefix(REDIS_URL, prefix);

// How far one case's rounds moved: the same server under the same load should read the same,
// so a wide spread is the machine drifting during the sitting, and it moves the same-round
// ratios too (the cases run one after another). Such a sitting was seen on 2026-12-02: bare
// Express read 9,409, 4,199 and 2,044 req/s in its three rounds (docs/performance.md).
const DRIFT_WARNING = 1.3;
const spreads = cases.map((c) => {
  const rps = c.runs.map((r) => r.rps);
  return { name: c.name, spread: Math.max(...rps) / Math.min(...rps) };
});
const widest = spreads.reduce((a, b) => (b.spread > a.spread ? b : a));

const x = (value) => `${value.toFixed(2)}x`;
const lines = [
  `GET /api/auth/me on Node ${process.version}, ${CONNECTIONS} connections, ${SECONDS} s x ${RUNS} runs (cases interleaved; medians), ${SESSIONS} sessions`,
  '',
  '| case | store | req/s | vs bare Express | vs framework floor | vs feature stack | p99 ms | failed |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.store} | ${r.rps} | ${x(r.against.bare)} | ${x(r.against.floor)} | ${x(r.against.feature)} | ${r.p99} | ${r.failed} |`,
  ),
  '',
  'Ratios are against the case with the same session store; the raw node:http row and Keel on SQLite (database backend) are compared with the MemoryStore cases.',
  '',
  '| Keel on | Keel / feature stack | Keel / framework floor |',
  '|---|---|---|',
  ...Object.keys(keelOn).map(
    (store) => `| ${store} | ${x(targets[store].vsFeature)} | ${x(targets[store].vsFloor)} |`,
  ),
  '',
  `Keel database backend on PostgreSQL / Keel memory backend: ${x(targets.postgresVsMemory)}`,
  '',
  `Widest spread of one case's rounds: ${x(widest.spread)} (${widest.name})${
    widest.spread > DRIFT_WARNING
      ? `. Over ${x(DRIFT_WARNING)}: the machine drifted during this sitting, so these ratios are not to be trusted; compare builds with bench/ab.js, which takes turns every few seconds.`
      : ''
  }`,
];
process.stdout.write(
  `${lines.join('\n')}\n\nJSON ${JSON.stringify({ results, targets, spreads })}\n`,
);
