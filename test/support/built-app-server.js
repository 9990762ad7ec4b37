// The built server (dist/, made by `nest build`) as main.ts runs it, through the same serve()
// (crash handlers, listen, ready, SIGTERM/SIGINT drain), plus a few routes only tests need:
//   GET  /test/slow?ms=N             answers {"sleptMs": N} after N ms
//   POST /test/unhandled-rejection   leaves a promise rejection nobody handles
//   POST /test/uncaught-exception    throws outside any request handler
// Plain JavaScript, so it runs with `node` and no build step of its own. Configuration comes
// from the environment, as for dist/main.js.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setTimeout as delay } from 'node:timers/promises';
import { AppModule } from '../../dist/app.module.js';
import { Public } from '../../dist/auth/decorators.js';
import { configureApp } from '../../dist/http/configure-app.js';
import { serve } from '../../dist/runtime-state/serve.js';

class TestRoutesController {
  async slow(ms) {
    await delay(Number(ms));
    return { sleptMs: Number(ms) };
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
}

function decorateMethod(name, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(TestRoutesController.prototype, name);
  for (const decorator of decorators) decorator(TestRoutesController.prototype, name, descriptor);
}
// Test routes need no session, like the probes (the guards are global).
Controller('test')(TestRoutesController);
Public()(TestRoutesController);
decorateMethod('slow', Get('slow'));
Query('ms')(TestRoutesController.prototype, 'slow', 0);
decorateMethod('unhandledRejection', Post('unhandled-rejection'), HttpCode(200));
decorateMethod('uncaughtException', Post('uncaught-exception'), HttpCode(200));

class ServerWithTestRoutes {}
Module({ imports: [AppModule.forRoot()], controllers: [TestRoutesController] })(
  ServerWithTestRoutes,
);

const app = await NestFactory.create(ServerWithTestRoutes, {
  bufferLogs: true,
  bodyParser: false,
  abortOnError: false,
});
configureApp(app);
await serve(app);
