// The honest baseline (issue 20): what a Node team assembles by hand for the features Keel gives
// `GET /api/auth/me`, from the usual libraries, each configured as its README suggests:
// - helmet: security headers, with Keel's options (dist/http/security-headers.js, so `npm run
//   build` first, as for Keel) so the answers carry the same headers;
// - pino-http: a JSON line per request at info on stdout, with a request id (a UUID, also sent as
//   X-Request-Id) and the user's id, as Keel logs it; serializers trimmed to Keel's fields, since
//   pino-http's defaults would log every header, the session cookie included;
// - express-prom-bundle: a request-duration histogram by method, route template and status, and
//   Node's default metrics, served on a separate app (Keel serves /metrics on METRICS_PORT);
// - express.json(): Keel parses JSON bodies on the routes that take one;
// - express-session on the store BASELINE_STORE names (session-setup.js: MemoryStore,
//   connect-redis or connect-pg-simple), with Keel's session settings;
// - passport with sessions: deserializeUser reads the user from the database on every request
//   (a disabled or deleted user loses access at once, like Keel's SessionGuard, which reuses a
//   read for at most a second);
// - csrf-sync: the synchronizer token in the session, checked on unsafe methods (Keel's CsrfGuard).
// The users table is where Keel's case of the same store reads it from: SQLite (better-sqlite3,
// a file in DATA_DIR, WAL like Keel) for memory and Redis, Keel's default database; PostgreSQL
// (the same pool as connect-pg-simple, on DATABASE_URL) for postgres, as Keel's database backend
// on PostgreSQL. Seeds BENCH_SEED_SESSIONS signed-in sessions and prints their cookies;
// `BENCH_READY {...}` when it serves.
import Database from 'better-sqlite3';
import { csrfSync } from 'csrf-sync';
import express from 'express';
import promBundle from 'express-prom-bundle';
import helmet from 'helmet';
import passport from 'passport';
import { pinoHttp } from 'pino-http';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { HELMET_OPTIONS } from '../../dist/http/security-headers.js';
import { profileOnSignal } from '../support/cpu-profile-on-signal.js';
import {
  seedSessions,
  serveExpress,
  sessionMiddleware,
  storeFromEnv,
  user,
} from './session-setup.js';

/** Keel's users columns (src/database/migrations/0003-users.ts) less the normalized username. */
const USERS_TABLE = `CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT, role TEXT NOT NULL,
  password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`;

const secret = randomBytes(32).toString('base64url');
const { store, pool, close } = await storeFromEnv();
const users = pool
  ? await postgresUsers(pool)
  : sqliteUsers(join(process.env.DATA_DIR, 'users.db'));

passport.serializeUser((signedIn, done) => done(null, signedIn.id));
passport.deserializeUser((id, done) => {
  users.findById(id).then(
    (row) => done(null, row && !row.disabled ? row : false),
    (error) => done(error),
  );
});
const { csrfSynchronisedProtection } = csrfSync();

const metricsApp = express();
const app = express();
app.use(helmet(HELMET_OPTIONS));
app.use(
  pinoHttp({
    genReqId(req, res) {
      const id = randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (req, res, error) =>
      error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    customProps: (req) => (req.user ? { userId: req.user.id } : {}),
    serializers: {
      req: (req) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
      }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
  }),
);
app.use(
  promBundle({
    includeMethod: true,
    includePath: true,
    normalizePath: (req) => (req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched'),
    promClient: { collectDefaultMetrics: {} },
    autoregister: false,
    metricsApp,
  }),
);
app.use(express.json());
app.use(sessionMiddleware(store, secret));
app.use(passport.session());
app.use(csrfSynchronisedProtection);

app.get('/api/auth/me', (req, res) => {
  if (!req.isAuthenticated()) {
    res.status(401).json({
      statusCode: 401,
      code: 'unauthenticated',
      message: 'Sign in first: POST /api/auth/login',
    });
    return;
  }
  const { id, username, email, role } = req.user;
  res.json({ user: { id, username, email, role } });
});
// Errors (csrf-sync's 403 among them) as JSON, like Keel's error filter.
app.use((error, req, res, _next) => {
  const status = error.status ?? 500;
  res.status(status).json({ statusCode: status, message: status < 500 ? error.message : 'Error' });
});

await users.insert(user);
await seedSessions(store, secret, () => ({
  passport: { user: user.id },
  csrfToken: randomBytes(32).toString('base64url'),
}));
profileOnSignal();
if (process.env.METRICS_PORT) metricsApp.listen(Number(process.env.METRICS_PORT), '127.0.0.1');
serveExpress(app, async () => {
  users.close();
  await close();
});

/** The users table in SQLite, with Keel's pragmas (src/database/connect.ts). */
function sqliteUsers(file) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(USERS_TABLE);
  const byId = db.prepare('SELECT * FROM users WHERE id = ?');
  const insert = db.prepare(
    `INSERT INTO users (id, username, email, role, password_hash, created_at, updated_at)
     VALUES (@id, @username, @email, @role, 'not-a-hash', @now, @now)`,
  );
  return {
    findById: async (id) => byId.get(id),
    insert: async (row) => void insert.run({ ...row, now: Date.now() }),
    close: () => db.close(),
  };
}

/** The same table in PostgreSQL, read through connect-pg-simple's pool. */
async function postgresUsers(pool) {
  await pool.query(USERS_TABLE);
  return {
    findById: async (id) => (await pool.query('SELECT * FROM users WHERE id = $1', [id])).rows[0],
    insert: async (row) =>
      void (await pool.query(
        `INSERT INTO users (id, username, email, role, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'not-a-hash', $5, $5) ON CONFLICT (id) DO NOTHING`,
        [row.id, row.username, row.email, row.role, Date.now()],
      )),
    close: () => {},
  };
}
