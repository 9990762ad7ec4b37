// The built server (dist/, made by `nest build`) as main.ts runs it, through the same serve()
// (crash handlers, listen, ready, SIGTERM/SIGINT drain), plus a few routes only tests need:
//   GET  /test/slow?ms=N             answers {"sleptMs": N} after N ms
//   POST /test/session-write?ms=N    signed in: after N ms changes its own session (so
//                                    express-session saves it when the request ends)
//   POST /test/unhandled-rejection   leaves a promise rejection nobody handles
//   POST /test/uncaught-exception    throws outside any request handler
//   POST /test/log-lines?count=N     logs N lines of about 1 KiB (fills a pipe nobody reads)
// Plain JavaScript, so it runs with `node` and no build step of its own. Configuration comes
// from the environment, as for dist/main.js, plus two test-only knobs read here (never by Keel):
//   KEEL_TEST_REPLICA_TIMINGS   JSON for the REPLICA_TIMINGS provider (short heartbeats)
//   KEEL_TEST_SCRYPT_LOG_N      cheap password hashing, for suites that sign in many times
//   KEEL_TEST_NO_ANNOUNCEMENTS  hear of settings changes only through the reconciliation (a
//                               replica that is late for every change)
//   KEEL_TEST_STUCK_SHUTDOWN    a shutdown hook that never returns and keeps the event loop
//                               busy (a client that never closes), for the hard-exit bound
import 'reflect-metadata';
import { Controller, Get, HttpCode, Logger, Module, Post, Query, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { setTimeout as delay } from 'node:timers/promises';
import { AppModule } from '../../dist/app.module.js';
import { Public } from '../../dist/access/decorators.js';
import { configureApp } from '../../dist/app/configure-app.js';
import { REPLICA_TIMINGS } from '../../dist/replicas/replica-timings.js';
import { serve } from '../../dist/app/serve.js';
import { SETTINGS_ANNOUNCER } from '../../dist/scale-out/settings-announcer.js';
import { PASSWORD_HASHER_OPTIONS } from '../../dist/users/password-hasher.js';

class TestRoutesController {
  async slow(ms) {
    await delay(Number(ms));
    return { sleptMs: Number(ms) };
  }

  async sessionWrite(ms, req) {
    await delay(Number(ms));
    req.session.testMark = Date.now();
    return { ok: true };
  }

  unhandledRejection() {
    void Promise.reject(new Error('nobody handles this rejection'));
    return { ok: true };
  }

  uncaughtException() {
    setTimeout(() => {
      throw new Error('thrown outside any request');
    }, 0);
    return { ok: true };
  }

  logLines(count) {
    const logger = new Logger('TestRoutes');
    const filler = 'x'.repeat(1000);
    for (let i = 0; i < Number(count); i++) logger.log(`line ${i} ${filler}`);
    return { logged: Number(count) };
  }
}

/** Never finishes closing, and keeps a timer alive meanwhile, as a stuck client would. */
class StuckShutdown {
  onApplicationShutdown() {
    setInterval(() => {}, 1000);
    return new Promise(() => {});
  }
}

function decorateMethod(name, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(TestRoutesController.prototype, name);
  for (const decorator of decorators) decorator(TestRoutesController.prototype, name, descriptor);
}
// Test routes need no session, like the probes (the guards are global), but session-write.
Controller('test')(TestRoutesController);
decorateMethod('slow', Public(), Get('slow'));
Query('ms')(TestRoutesController.prototype, 'slow', 0);
decorateMethod('sessionWrite', Post('session-write'), HttpCode(200));
Query('ms')(TestRoutesController.prototype, 'sessionWrite', 0);
Req()(TestRoutesController.prototype, 'sessionWrite', 1);
decorateMethod('unhandledRejection', Public(), Post('unhandled-rejection'), HttpCode(200));
decorateMethod('uncaughtException', Public(), Post('uncaught-exception'), HttpCode(200));
decorateMethod('logLines', Public(), Post('log-lines'), HttpCode(200));
Query('count')(TestRoutesController.prototype, 'logLines', 0);

class ServerWithTestRoutes {}
Module({
  imports: [AppModule.forRoot()],
  controllers: [TestRoutesController],
  providers: process.env.KEEL_TEST_STUCK_SHUTDOWN ? [StuckShutdown] : [],
})(ServerWithTestRoutes);

const appOptions = { bufferLogs: true, bodyParser: false, abortOnError: false };
const overrides = [];
if (process.env.KEEL_TEST_REPLICA_TIMINGS) {
  overrides.push([REPLICA_TIMINGS, JSON.parse(process.env.KEEL_TEST_REPLICA_TIMINGS)]);
}
if (process.env.KEEL_TEST_NO_ANNOUNCEMENTS) {
  overrides.push([SETTINGS_ANNOUNCER, null]);
}
if (process.env.KEEL_TEST_SCRYPT_LOG_N) {
  overrides.push([PASSWORD_HASHER_OPTIONS, { logN: Number(process.env.KEEL_TEST_SCRYPT_LOG_N) }]);
}
let app;
if (overrides.length === 0) {
  app = await NestFactory.create(ServerWithTestRoutes, appOptions);
} else {
  // Providers can only be replaced through the testing module; the app is otherwise the same.
  let builder = Test.createTestingModule({ imports: [ServerWithTestRoutes] });
  for (const [token, value] of overrides) builder = builder.overrideProvider(token).useValue(value);
  app = (await builder.compile()).createNestApplication(appOptions);
}
configureApp(app);
await serve(app);
