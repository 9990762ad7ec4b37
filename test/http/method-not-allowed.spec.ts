import express, { type NextFunction, type Request, type Response } from 'express';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { methodNotAllowed } from '../../src/http/method-not-allowed.js';

/** A tiny app with the 405 middleware in front of its routes, as configureApp mounts it. */
function appWith(routes: (app: express.Express) => void): express.Express {
  const app = express();
  app.use((req, res, next) => methodNotAllowed(app)(req, res, next));
  routes(app);
  return app;
}

const ok = (_req: Request, res: Response) => {
  res.json({ ok: true });
};
const passOn = (_req: Request, _res: Response, next: NextFunction) => next();

describe('methodNotAllowed', () => {
  it("lists in Allow the methods of the path's routes", async () => {
    const app = appWith((app) => {
      app.get('/thing', ok);
      app.patch('/thing', ok);
      app.delete('/other', ok);
    });
    const put = await request(app).put('/thing').expect(405);
    expect(put.headers.allow).toBe('GET, PATCH');
    expect((await request(app).post('/other').expect(405)).headers.allow).toBe('DELETE');
    // HEAD and OPTIONS are answered, though not listed.
    await request(app).head('/thing').expect(200);
    const options = await request(app).options('/thing').expect(204);
    expect(options.headers.allow).toBe('GET, PATCH');
    await request(app).put('/nothing').expect(404);
  });

  it('leaves routes for every method (middleware mounted with all) out of it', async () => {
    // As Nest mounts module middleware for forRoutes('*'): a route of every method that only
    // passes requests on. It serves no method of /thing, and must not hide the 405.
    const app = appWith((app) => {
      app.all('/{*splat}', passOn);
      app.get('/thing', ok);
    });
    const put = await request(app).put('/thing').expect(405);
    expect(put.headers.allow).toBe('GET');
    await request(app).get('/thing').expect(200);
    await request(app).put('/nothing').expect(404);

    const routed = appWith((app) => {
      app.route('/{*splat}').all(passOn);
      app.get('/thing', ok);
    });
    expect((await request(routed).put('/thing').expect(405)).headers.allow).toBe('GET');
  });

  it('answers each path the same after it is remembered, and after the memo is emptied', async () => {
    // One middleware for the app's life, as configureApp mounts it: it remembers each path's
    // methods, at most 1,000 paths at a time. Paths with ids go past that bound here.
    const app = express();
    app.use(methodNotAllowed(app));
    app.get('/users/:id', ok);
    app.delete('/users/:id', ok);
    app.post('/users', ok);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const answer = async (method: string, path: string) => {
      const res = await fetch(`${base}${path}`, { method });
      await res.arrayBuffer();
      return `${res.status} ${res.headers.get('allow') ?? '-'}`;
    };
    try {
      for (let id = 0; id < 1200; id++) {
        expect(await answer('PUT', `/users/${id}`)).toBe('405 DELETE, GET');
        if (id % 100 === 0) {
          expect(await answer('GET', `/users/${id}`)).toBe('200 -');
          expect(await answer('PUT', '/users')).toBe('405 POST');
          expect(await answer('PUT', '/nothing')).toBe('404 -');
          expect(await answer('PUT', `/users/${id / 100}`)).toBe('405 DELETE, GET');
        }
      }
    } finally {
      server.close();
    }
  });
});
