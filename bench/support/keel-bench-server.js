// Keel as main.ts runs it (dist/, through the same serve()), plus one thing only benchmarks
// need: with BENCH_SEED_SESSIONS=N it creates a user and N signed-in sessions for it directly in
// the active session backend (logging in 10,000 times would measure scrypt, not sessions), and
// prints their cookies. Prints one line `BENCH_READY {...}` on stdout when it serves.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { AppModule } from '../../dist/app.module.js';
import { SessionSecrets } from '../../dist/auth/session-secrets.js';
import { configureApp } from '../../dist/app/configure-app.js';
import { serve } from '../../dist/app/serve.js';
import { SessionCacheService } from '../../dist/session-cache/session-cache.service.js';
import { SettingsService } from '../../dist/settings/settings.service.js';
import { UsersService } from '../../dist/users/users.service.js';
import { profileOnSignal } from './cpu-profile-on-signal.js';

// First-run setup completes unattended, as in an automated install.
const password = 'bench password 123456';
process.env.KEEL_ADMIN_USERNAME ??= 'bench-admin';
process.env.KEEL_ADMIN_PASSWORD ??= password;

const app = await NestFactory.create(AppModule.forRoot(), {
  bufferLogs: true,
  bodyParser: false,
  abortOnError: false,
});
configureApp(app);
const address = await serve(app);

const seed = Number(process.env.BENCH_SEED_SESSIONS ?? 0);
const users = app.get(UsersService);
const admin = await users.findByUsername(process.env.KEEL_ADMIN_USERNAME);
const member = await users.create({ username: 'bench-user', password, role: 'member' });

// BENCH_BACKEND: switch the session cache first (a real settings change), then seed into it.
// The default follows the environment (redis when REDIS_URL is set), so memory is asked for too.
const settings = app.get(SettingsService);
if (
  process.env.BENCH_BACKEND &&
  process.env.BENCH_BACKEND !== settings.current.values.sessionCache.backend
) {
  await settings.update(
    { sessionCache: { backend: process.env.BENCH_BACKEND } },
    settings.current.version,
    'bench',
  );
}

const SIGN_IN_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const secret = app.get(SessionSecrets).signing;
const backend = app.get(SessionCacheService).backend;
const cookies = [];
const now = Date.now();
const week = 7 * 24 * 3600 * 1000;
for (let i = 0; i < seed; i++) {
  const sid = randomBytes(32).toString('base64url');
  const data = {
    // The cookie's lifetime only: its attributes are the store's (src/session-cache/session-store.ts).
    cookie: { originalMaxAge: week },
    userId: member.id,
    username: member.username,
    csrfToken: randomBytes(32).toString('base64url'),
    // What a sign-in also stores (src/auth/auth-sessions.service.ts), for the sessions list: the
    // browser's User-Agent and the address it signed in from.
    userAgent: SIGN_IN_USER_AGENT,
    ip: '127.0.0.1',
    createdAt: now,
    absoluteExpiresAt: now + week,
  };
  await backend.put({
    sid,
    data: JSON.stringify(data),
    userId: member.id,
    expiresAt: now + 1800 * 1000,
    lastSeenAt: now,
  });
  const signature = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  cookies.push(`keel.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`);
}
if (process.env.BENCH_COOKIES_FILE)
  writeFileSync(process.env.BENCH_COOKIES_FILE, JSON.stringify(cookies));
profileOnSignal();
process.stdout.write(
  `BENCH_READY ${JSON.stringify({ port: address.port, admin: { username: admin.username, password: process.env.KEEL_ADMIN_PASSWORD }, member: member.id })}\n`,
);
