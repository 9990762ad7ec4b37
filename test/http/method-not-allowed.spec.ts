import express, { type NextFunction, type Request, type Response } from 'express';
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
});
