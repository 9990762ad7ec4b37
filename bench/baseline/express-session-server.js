// The baseline Keel is measured against: a minimal Express 5 + express-session app, the same
// session settings Keel uses (resave: false, saveUninitialized: false), answering the same `me`
// JSON from the session. The store is express-session's MemoryStore, or connect-redis when
// BASELINE_STORE=redis (REDIS_URL, REDIS_PREFIX). Seeds BENCH_SEED_SESSIONS sessions and prints
// their cookies, like keel-bench-server.js. Prints `BENCH_READY {...}` when it serves.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { randomBytes } from 'node:crypto';
import { profileOnSignal } from '../support/cpu-profile-on-signal.js';
import { seedSessions, sessionMiddleware } from './session-setup.js';

const secret = randomBytes(32).toString('base64url');
let redis;
if (process.env.BASELINE_STORE === 'redis') {
  redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  await redis.connect();
}
const store = redis
  ? new RedisStore({ client: redis, prefix: process.env.REDIS_PREFIX ?? 'keel-baseline:' })
  : new session.MemoryStore();
const app = express();
app.disable('x-powered-by');
app.use(sessionMiddleware(store, secret));
app.get('/api/auth/me', (req, res) => {
  if (!req.session.user) {
    res.status(401).json({ statusCode: 401, code: 'unauthenticated', message: 'Sign in first' });
    return;
  }
  res.json({ user: req.session.user });
});

await seedSessions(store, secret);
profileOnSignal();
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`BENCH_READY ${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(async () => {
    await redis?.close();
    process.exit(0);
  });
});
