// Preloaded into Keel by startup-phases.js (`node --import`): timestamps of the start-up phases,
// written as JSON to STARTUP_MARKS_FILE when the process exits. It wraps Nest's own steps
// (and scrypt) from outside, so the code under test is the built app, unchanged. Nest's core is
// loaded here, before the app's imports: its cost is reported on its own.
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const preloadAt = performance.now();
const marks = { timeOrigin: performance.timeOrigin, preloadAt, spans: [], hooks: [], scrypt: [] };
// V8's profile clock and hrtime are both CLOCK_MONOTONIC: this pair maps one onto the other.
marks.hrtimeUs = Number(process.hrtime.bigint() / 1000n);
marks.hrtimeAt = performance.now();

function span(name, start, end = performance.now()) {
  marks.spans.push({ name, start, end });
}

function wrapAsync(target, method, name, after) {
  const original = target[method];
  target[method] = async function (...args) {
    const start = performance.now();
    try {
      const result = await original.apply(this, args);
      after?.(result);
      return result;
    } finally {
      span(name ?? method, start);
    }
  };
}

// Worker threads (pino's) run this preload too: only the main thread's marks count.
// At exit: the poller may see ready and stop the server before a timer of ours would run.
if (isMainThread) {
  process.once('exit', () => writeFileSync(process.env.STARTUP_MARKS_FILE, JSON.stringify(marks)));
}

const scrypt = crypto.scrypt;
crypto.scrypt = function (password, salt, keylen, options, callback) {
  const start = performance.now();
  return scrypt.call(crypto, password, salt, keylen, options, (error, key) => {
    marks.scrypt.push({ start, end: performance.now() });
    callback(error, key);
  });
};
syncBuiltinESMExports();

const nestCoreStart = performance.now();
const { NestFactory, NestApplication } = await import('@nestjs/core');
span('@nestjs/core import (preload)', nestCoreStart);

const create = NestFactory.create;
NestFactory.create = async function (...args) {
  marks.createAt = performance.now();
  const app = await create.apply(this, args);
  span('NestFactory.create (scan, DI)', marks.createAt);
  timeLifecycleHooks(app);
  return app;
};
for (const step of [
  'registerModules',
  'registerRouter',
  'callInitHook',
  'registerRouterHooks',
  'callBootstrapHook',
]) {
  wrapAsync(NestApplication.prototype, step);
}
const listen = NestApplication.prototype.listen;
NestApplication.prototype.listen = async function (...args) {
  marks.listenAt = performance.now();
  const server = await listen.apply(this, args);
  span('app.listen', marks.listenAt);
  marks.listenedAt = performance.now();
  return server;
};

/** Times every provider's onModuleInit and onApplicationBootstrap, by class name. */
function timeLifecycleHooks(app) {
  for (const module of app.container.getModules().values()) {
    for (const wrapper of module.providers.values()) {
      const instance = wrapper.instance;
      if (!instance || typeof instance !== 'object') continue;
      for (const hook of ['onModuleInit', 'onApplicationBootstrap']) {
        if (typeof instance[hook] !== 'function') continue;
        const original = instance[hook];
        const name = `${instance.constructor.name}.${hook}`;
        instance[hook] = async function (...args) {
          const start = performance.now();
          try {
            return await original.apply(this, args);
          } finally {
            marks.hooks.push({ name, start, end: performance.now() });
          }
        };
      }
    }
  }
}
