// The baseline Keel is measured against: a minimal Express 5 + express-session app, the same
// session settings Keel uses (resave: false, saveUninitialized: false), answering the same `me`
// JSON from the session. The store is the one BASELINE_STORE names (session-setup.js:
// MemoryStore, connect-redis or connect-pg-simple). Seeds BENCH_SEED_SESSIONS sessions and
// prints their cookies, like keel-bench-server.js. Prints `BENCH_READY {...}` when it serves.
import express from 'express';
import { randomBytes } from 'node:crypto';
import { profileOnSignal } from '../support/cpu-profile-on-signal.js';
import { seedSessions, serveExpress, sessionMiddleware, storeFromEnv } from './session-setup.js';

const secret = randomBytes(32).toString('base64url');
const { store, close } = await storeFromEnv();
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
serveExpress(app, close);
