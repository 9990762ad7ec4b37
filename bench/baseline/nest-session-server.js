// The framework floor: a minimal NestJS app on Express with the same express-session setup as
// express-session-server.js (MemoryStore) and one controller answering the same `me` JSON from
// the session. What Keel adds beyond this is Keel's own per-request work, not Nest's.
// Seeds BENCH_SEED_SESSIONS sessions and prints their cookies; `BENCH_READY {...}` when it serves.
import 'reflect-metadata';
import { Controller, Get, Module, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import session from 'express-session';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { profileOnSignal } from '../support/cpu-profile-on-signal.js';

const secret = randomBytes(32).toString('base64url');
const store = new session.MemoryStore();

// Decorators applied by hand: this file is plain JavaScript, like the other baselines.
class MeController {
  me(req) {
    return { user: req.session.user };
  }
}
Req()(MeController.prototype, 'me', 0);
Get('me')(
  MeController.prototype,
  'me',
  Object.getOwnPropertyDescriptor(MeController.prototype, 'me'),
);
Controller('api/auth')(MeController);
class AppModule {}
Module({ controllers: [MeController] })(AppModule);

const app = await NestFactory.create(AppModule, { logger: false, bodyParser: false });
app.getHttpAdapter().getInstance().disable('x-powered-by');
app.use(
  session({
    name: 'keel.sid',
    secret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', path: '/' },
  }),
);

const user = {
  id: 'c0ffee00-0000-4000-8000-000000000000',
  username: 'bench-user',
  email: null,
  role: 'member',
};
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
profileOnSignal();
await app.listen(0, '127.0.0.1');
process.stdout.write(
  `BENCH_READY ${JSON.stringify({ port: app.getHttpServer().address().port })}\n`,
);
process.on('SIGTERM', async () => {
  app.getHttpServer().closeAllConnections();
  await app.close();
  process.exit(0);
});
