// The framework floor: a minimal NestJS app on Express with the same express-session setup as
// express-session-server.js (the store BASELINE_STORE names) and one controller answering the same `me` JSON from
// the session. What Keel adds beyond this is Keel's own per-request work, not Nest's.
// Seeds BENCH_SEED_SESSIONS sessions and prints their cookies; `BENCH_READY {...}` when it serves.
import 'reflect-metadata';
import { Controller, Get, Module, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { profileOnSignal } from '../support/cpu-profile-on-signal.js';
import { seedSessions, sessionMiddleware, storeFromEnv } from './session-setup.js';

const secret = randomBytes(32).toString('base64url');
const { store, close } = await storeFromEnv();

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
// BASELINE_EXPRESS_CLASSES=1: the floor with the change Keel makes to Express's prototype switch
// (src/http/express-request-classes.ts, from dist/: `npm run build` first), to price that change
// on Nest alone. Off by default: the floor is Nest as it comes.
if (process.env.BASELINE_EXPRESS_CLASSES === '1') {
  const { buildRequestsWithExpressPrototypes } =
    await import('../../dist/http/express-request-classes.js');
  if (!buildRequestsWithExpressPrototypes(app))
    throw new Error('BASELINE_EXPRESS_CLASSES: the server keeps its request classes elsewhere');
}
app.use(sessionMiddleware(store, secret));
await seedSessions(store, secret);
profileOnSignal();
await app.listen(0, '127.0.0.1');
process.stdout.write(
  `BENCH_READY ${JSON.stringify({ port: app.getHttpServer().address().port })}\n`,
);
process.on('SIGTERM', async () => {
  app.getHttpServer().closeAllConnections();
  await app.close();
  await close();
  process.exit(0);
});
