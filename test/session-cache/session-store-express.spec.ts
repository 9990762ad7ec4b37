import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import { RedisSessionBackend } from '../../src/session-cache/backends/redis-session.backend.js';
import {
  type SessionBackend,
  SessionStoreUnavailableError,
} from '../../src/session-cache/session-backend.js';
import {
  KeelSessionStore,
  type SessionCookieAttributes,
} from '../../src/session-cache/session-store.js';
import { freePort } from '../support/redis-server.js';
import { COOKIE_ATTRIBUTES } from './support/session-fixtures.js';

// The store under express-session itself, as Keel mounts it: the throttle and the error path
// only matter if express-session behaves with them as the store expects.

const HOUR = 3_600_000;

/** The real memory backend, counting the writes express-session causes. */
function countingWrites(backend: SessionBackend) {
  const writes = { put: 0, update: 0, touch: 0 };
  const counted: SessionBackend = Object.assign(Object.create(backend) as SessionBackend, {
    put: (stored: Parameters<SessionBackend['put']>[0]) => {
      writes.put += 1;
      return backend.put(stored);
    },
    update: (stored: Parameters<SessionBackend['update']>[0]) => {
      writes.update += 1;
      return backend.update(stored);
    },
    touch: (sid: string, expiresAt: number, lastSeenAt: number) => {
      writes.touch += 1;
      return backend.touch(sid, expiresAt, lastSeenAt);
    },
  });
  return { counted, writes };
}

function appWith(store: session.Store, cookie: SessionCookieAttributes = COOKIE_ATTRIBUTES) {
  const app = express();
  // A Secure cookie is only sent over TLS: the tests say so with X-Forwarded-Proto.
  if (cookie.secure) app.set('trust proxy', true);
  app.use(
    session({
      store,
      secret: 'test-secret-of-at-least-32-characters!',
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie,
    }),
  );
  // Signed in at the first visit (only signed-in sessions are stored), counted at every one.
  app.post('/visit', (req, res) => {
    const data = req.session as unknown as { visits?: number; userId?: string };
    // As a sign-in does: the cookie lives until the absolute timeout.
    if (data.userId === undefined) req.session.cookie.maxAge = 24 * HOUR;
    data.userId = 'u1';
    data.visits = (data.visits ?? 0) + 1;
    res.json({ visits: data.visits });
  });
  app.post('/anonymous', (req, res) => {
    (req.session as unknown as { note?: string }).note = 'not signed in';
    res.json({});
  });
  app.get('/read', (req, res) => {
    res.json({ visits: (req.session as unknown as { visits?: number }).visits ?? null });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error instanceof SessionStoreUnavailableError ? 503 : 500).json({});
  });
  return app;
}

/** The store as Keel makes it (an hour idle, a day at most), over `backend` at every call. */
function storeOver(
  backend: () => SessionBackend,
  cookie: SessionCookieAttributes = COOKIE_ATTRIBUTES,
  touchThrottleMs?: number,
): KeelSessionStore {
  return new KeelSessionStore({
    backend,
    cookie,
    idleTimeoutMs: () => HOUR,
    absoluteTimeoutMs: () => 24 * HOUR,
    touchThrottleMs,
  });
}

function setCookieOf(response: request.Response): string {
  const [cookie] = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  expect(cookie).toBeDefined();
  return cookie!;
}

/** The session id a response's cookie names (express-session signs it: `s:<id>.<signature>`). */
function sidOf(response: request.Response): string {
  const value = decodeURIComponent(setCookieOf(response).split(';')[0]!.split('=')[1]!);
  return value.slice(2, value.lastIndexOf('.'));
}

describe('KeelSessionStore under express-session', () => {
  const memory = new MemorySessionBackend();
  afterAll(() => memory.close());

  it('finds in the next request what one request saved, and stores no read-time field', async () => {
    const store = storeOver(() => memory);
    const agent = request.agent(appWith(store));
    await agent.post('/visit').expect(200, { visits: 1 });
    await agent.post('/visit').expect(200, { visits: 2 });
    await agent.get('/read').expect(200, { visits: 2 });

    const stored: string[] = [];
    for await (const entry of memory.entries()) stored.push(entry.data);
    expect(stored).toHaveLength(1);
    const data = JSON.parse(stored[0]) as Record<string, unknown>;
    expect(data).toMatchObject({ visits: 2 });
    expect(data).not.toHaveProperty('storedExpiresAt');
  });

  it("stores the cookie's lifetime and not its attributes, and gives the store's back", async () => {
    for (const cookie of [COOKIE_ATTRIBUTES, { ...COOKIE_ATTRIBUTES, secure: true }]) {
      const backend = new MemorySessionBackend();
      const store = storeOver(() => backend, cookie);
      const app = appWith(store, cookie);
      const overTls = { 'X-Forwarded-Proto': cookie.secure ? 'https' : 'http' };
      const signIn = await request(app).post('/visit').set(overTls).expect(200);
      const [stored] = await backend.getMany([sidOf(signIn)]);
      const storedCookie = (JSON.parse(stored!.data) as { cookie: Record<string, number> }).cookie;
      expect(Object.keys(storedCookie)).toEqual(['originalMaxAge']);
      // express-session reads the lifetime back from the expiry it set: a millisecond may go.
      expect(storedCookie.originalMaxAge).toBeGreaterThan(24 * HOUR - 1000);
      expect(storedCookie.originalMaxAge).toBeLessThanOrEqual(24 * HOUR);

      // A change to the loaded session sends its cookie again, built from what was loaded: it
      // must carry every attribute the sign-in's cookie did, and the same lifetime.
      const before = Date.now();
      // Sent by hand: supertest's cookie jar keeps a Secure cookie off plain HTTP.
      const again = await request(app)
        .post('/visit')
        .set(overTls)
        .set('Cookie', setCookieOf(signIn).split(';')[0]!)
        .expect(200, { visits: 2 });
      const resent = setCookieOf(again);
      expect(resent).toMatch(
        cookie.secure
          ? /; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/
          : /; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/,
      );
      const expires = Date.parse(/Expires=([^;]+)/.exec(resent)![1]);
      expect(expires).toBeGreaterThanOrEqual(before + 24 * HOUR - 2000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 24 * HOUR);
      await backend.close();
    }
  });

  it("loads a session stored with its whole cookie, as Keel stored them before, with the store's attributes", async () => {
    const backend = new MemorySessionBackend();
    const store = storeOver(() => backend);
    const agent = request.agent(appWith(store));
    const signIn = await agent.post('/visit').expect(200);
    const [stored] = await backend.getMany([sidOf(signIn)]);
    const data = JSON.parse(stored!.data) as Record<string, unknown>;
    // Attributes unlike the store's, to tell which ones the loaded session gets.
    data.cookie = {
      originalMaxAge: 24 * HOUR,
      expires: new Date(Date.now() + 24 * HOUR).toISOString(),
      secure: false,
      httpOnly: false,
      path: '/elsewhere',
      sameSite: 'strict',
    };
    await backend.put({ ...stored!, data: JSON.stringify(data) });

    await agent.get('/read').expect(200, { visits: 1 });
    const again = await agent.post('/visit').expect(200, { visits: 2 });
    expect(setCookieOf(again)).toMatch(/; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    await backend.close();
  });

  it('stores sessions that an older Keel still loads (a store that gives back what it stored)', async () => {
    const backend = new MemorySessionBackend();
    const store = storeOver(() => backend);
    const signIn = await request(appWith(store)).post('/visit').expect(200);
    const sid = sidOf(signIn);
    const [stored] = await backend.getMany([sid]);
    // An older Keel's store parsed the stored JSON and handed it over as it was, as
    // express-session's own MemoryStore does: express-session then reads `cookie.expires`.
    const older = new session.MemoryStore();
    (older as unknown as { sessions: Record<string, string> }).sessions[sid] = stored!.data;
    const cookie = setCookieOf(signIn).split(';')[0]!;
    await request(appWith(older)).get('/read').set('Cookie', cookie).expect(200, { visits: 1 });
    await backend.close();
  });

  it('writes nothing for unmodified sessions within the touch throttle, then touches once', async () => {
    const { counted, writes } = countingWrites(memory);
    const store = storeOver(() => counted, COOKIE_ATTRIBUTES, 800);
    const agent = request.agent(appWith(store));
    await agent.post('/visit').expect(200);
    expect(writes).toEqual({ put: 1, update: 0, touch: 0 });

    for (let i = 0; i < 5; i++) await agent.get('/read').expect(200, { visits: 1 });
    expect(writes).toEqual({ put: 1, update: 0, touch: 0 });

    await sleep(900);
    await agent.get('/read').expect(200, { visits: 1 });
    expect(writes).toEqual({ put: 1, update: 0, touch: 1 });

    // A change to a loaded session is a conditional update, never a second put.
    await agent.post('/visit').expect(200, { visits: 2 });
    expect(writes).toEqual({ put: 1, update: 1, touch: 1 });
  });

  it('stores nothing for a session that is not signed in, however it changes', async () => {
    const backend = new MemorySessionBackend();
    const store = storeOver(() => backend);
    const app = appWith(store);
    for (let i = 0; i < 20; i++) await request(app).post('/anonymous').expect(200);
    expect(await backend.length()).toBe(0);
  });

  it('answers 503 when the backend is unreachable, never a fresh logged-out session', async () => {
    const unreachable = await RedisSessionBackend.connect(
      `redis://127.0.0.1:${await freePort()}`,
      'keel:',
      { waitForConnection: false, logger: { log: () => undefined, warn: () => undefined } },
    );
    let active: SessionBackend = memory;
    const store = storeOver(() => active);
    const agent = request.agent(appWith(store));
    await agent.post('/visit').expect(200);

    active = unreachable;
    try {
      const response = await agent.get('/read').expect(503);
      expect(response.headers['set-cookie']).toBeUndefined();
    } finally {
      await unreachable.close();
    }
  });
});
