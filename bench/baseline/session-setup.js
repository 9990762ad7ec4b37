// What the baselines (bare Express, NestJS on Express, and the feature-equivalent Express stack)
// share: the same session store, express-session middleware and seeded sessions, so they differ
// only in what runs around them.
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import pg from 'pg';
import { createClient } from 'redis';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

/** The signed-in user of every seeded session (the feature stack also stores it as a row). */
export const user = {
  id: 'c0ffee00-0000-4000-8000-000000000000',
  username: 'bench-user',
  email: null,
  role: 'member',
};

/**
 * The session store BASELINE_STORE names: `memory` (express-session's MemoryStore, the default),
 * `redis` (connect-redis; REDIS_URL, REDIS_PREFIX) or `postgres` (connect-pg-simple on
 * DATABASE_URL, its table created if missing). Resolves to `{ store, pool, close }`; `pool`, set
 * for `postgres` only, is there for the feature stack to read its users through.
 */
export async function storeFromEnv() {
  const kind = process.env.BASELINE_STORE ?? 'memory';
  if (kind === 'redis') {
    const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    await client.connect();
    const prefix = process.env.REDIS_PREFIX ?? 'keel-baseline:';
    return { store: new RedisStore({ client, prefix }), close: () => client.close() };
  }
  if (kind === 'postgres') {
    // Keel's pool size (src/database/connect.ts), which is also pg's default.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
    const PgStore = connectPgSimple(session);
    const store = new PgStore({ pool, createTableIfMissing: true });
    return {
      store,
      pool,
      async close() {
        await store.close();
        await pool.end();
      },
    };
  }
  if (kind !== 'memory') throw new Error(`BASELINE_STORE: unknown store ${kind}`);
  return { store: new session.MemoryStore(), close: async () => {} };
}

/** express-session as Keel configures it (resave: false, saveUninitialized: false). */
export function sessionMiddleware(store, secret) {
  return session({
    name: 'keel.sid',
    secret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', path: '/' },
  });
}

/**
 * Stores BENCH_SEED_SESSIONS signed-in sessions (each holding `sessionData()`, by default
 * `{ user }`) and writes their signed cookies to BENCH_COOKIES_FILE, as keel-bench-server.js does
 * for Keel.
 */
export async function seedSessions(store, secret, sessionData = () => ({ user })) {
  const cookies = [];
  const week = 7 * 24 * 3600 * 1000;
  for (let i = 0; i < Number(process.env.BENCH_SEED_SESSIONS ?? 0); i++) {
    const sid = randomBytes(32).toString('base64url');
    const cookie = {
      originalMaxAge: week,
      expires: new Date(Date.now() + week),
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    };
    await new Promise((resolve, reject) =>
      store.set(sid, { cookie, ...sessionData() }, (e) => (e ? reject(e) : resolve())),
    );
    const signature = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
    cookies.push(`keel.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`);
  }
  if (process.env.BENCH_COOKIES_FILE)
    writeFileSync(process.env.BENCH_COOKIES_FILE, JSON.stringify(cookies));
}

/**
 * Serves an Express `app` on a free loopback port, prints `BENCH_READY {"port":...}`, and on
 * SIGTERM closes every connection, then `close()` (the store's clients), then exits.
 */
export function serveExpress(app, close) {
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`BENCH_READY ${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(async () => {
      await close();
      process.exit(0);
    });
  });
}
