import express from 'express';
import { createServer, IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { buildRequestsWithExpressPrototypes } from '../../src/http/express-request-classes.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The prototypes of each request and response the server hands out, before and after Express. */
function watchPrototypes(server: Server) {
  const seen: { before: object[]; after: object[]; app: unknown[] }[] = [];
  const before = (req: IncomingMessage, res: ServerResponse) =>
    seen.push({
      before: [Object.getPrototypeOf(req), Object.getPrototypeOf(res)],
      after: [],
      app: [],
    });
  // Express handles the request synchronously inside its own `request` listener: a listener
  // added after it sees what Express made of the two objects.
  const after = (req: IncomingMessage, res: ServerResponse) => {
    const entry = seen[seen.length - 1];
    entry.after = [Object.getPrototypeOf(req), Object.getPrototypeOf(res)];
    entry.app = [(req as { app?: unknown }).app, (res as { app?: unknown }).app];
  };
  server.prependListener('request', before);
  server.on('request', after);
  return {
    seen,
    stop() {
      server.off('request', before);
      server.off('request', after);
    },
  };
}

describe("Express's per-request prototype switch (configureApp)", () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(() => keel.close());

  it('finds each request and response already built with the prototypes Express gives them', async () => {
    const expressApp = keel.app.getHttpAdapter().getInstance() as express.Express;
    const watch = watchPrototypes(keel.app.getHttpServer() as Server);
    try {
      const me = await keel.admin!.get('/api/auth/me').expect(200);
      expect(me.body.user.username).toBe('admin');
      const missing = await keel.admin!.get('/api/no-such-route').expect(404);
      expect(missing.body.statusCode).toBe(404);
    } finally {
      watch.stop();
    }
    expect(watch.seen).toHaveLength(2);
    // Still Node's classes underneath.
    expect(expressApp.request).toBeInstanceOf(IncomingMessage);
    expect(expressApp.response).toBeInstanceOf(ServerResponse);
    for (const { before, after, app } of watch.seen) {
      // What Express switches to is what Node built: the switch changes nothing.
      expect(before[0]).toBe(expressApp.request);
      expect(before[1]).toBe(expressApp.response);
      expect(after[0]).toBe(before[0]);
      expect(after[1]).toBe(before[1]);
      // And `req.app`, `res.app` are still Express's app.
      expect(app[0]).toBe(expressApp);
      expect(app[1]).toBe(expressApp);
    }
  });
});

describe('buildRequestsWithExpressPrototypes', () => {
  /** An app-shaped pair, as Nest's adapter holds them, around `server`. */
  function appAround(server: Server, instance = express()) {
    return {
      instance,
      app: {
        getHttpAdapter: () => ({ getInstance: () => instance }),
        getHttpServer: () => server,
      } as unknown as NestExpressApplication,
    };
  }

  it("changes nothing where the server does not hold Node's default classes", () => {
    class OwnRequest extends IncomingMessage {}
    const server = createServer({ IncomingMessage: OwnRequest });
    const { instance, app } = appAround(server);
    const request = instance.request;
    expect(buildRequestsWithExpressPrototypes(app)).toBe(false);
    expect(instance.request).toBe(request);
    const slots = Object.getOwnPropertySymbols(server).map(
      (symbol) => (server as unknown as Record<symbol, unknown>)[symbol],
    );
    expect(slots).toContain(OwnRequest);
    expect(slots).toContain(ServerResponse);
  });

  it('serves through Express as before: methods, properties and answers', async () => {
    const server = createServer();
    const { instance, app } = appAround(server);
    expect(buildRequestsWithExpressPrototypes(app)).toBe(true);
    instance.set('trust proxy', true);
    instance.get('/echo', (req, res) => {
      res.status(201).json({ ip: req.ip, header: req.get('x-test'), path: req.path });
    });
    // A sub-app mounted after the change: its requests see it as their app, and the parent's
    // routes see the parent again once it hands them back.
    const sub = express();
    sub.get('/who', (req, res, next) => {
      res.locals.sub = req.app === sub;
      next();
    });
    instance.use('/sub', sub);
    instance.get('/sub/who', (req, res) => {
      res.json({ sub: res.locals.sub, parent: req.app === instance && res.app === instance });
    });
    server.on('request', instance);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/echo?x=1`, {
        headers: { 'x-test': 'yes', 'x-forwarded-for': '203.0.113.7' },
      });
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ ip: '203.0.113.7', header: 'yes', path: '/echo' });
      const who = await fetch(`http://127.0.0.1:${port}/sub/who`);
      expect(await who.json()).toEqual({ sub: true, parent: true });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
