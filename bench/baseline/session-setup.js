// What the two baselines (Express, and NestJS on Express) share: the same express-session
// middleware and the same seeded sessions, so they differ only in the framework.
import session from 'express-session';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const user = {
  id: 'c0ffee00-0000-4000-8000-000000000000',
  username: 'bench-user',
  email: null,
  role: 'member',
};

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
 * Stores BENCH_SEED_SESSIONS signed-in sessions (each holding `user`) and writes their signed
 * cookies to BENCH_COOKIES_FILE, as keel-bench-server.js does for Keel.
 */
export async function seedSessions(store, secret) {
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
      store.set(sid, { cookie, user }, (e) => (e ? reject(e) : resolve())),
    );
    const signature = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
    cookies.push(`keel.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`);
  }
  if (process.env.BENCH_COOKIES_FILE)
    writeFileSync(process.env.BENCH_COOKIES_FILE, JSON.stringify(cookies));
}
