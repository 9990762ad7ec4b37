import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { login, me } from '../support/http-client.js';
import { freePort, OwnRedisServer, describeWithRedisServer } from '../support/redis-server.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

async function switchBackend(keel: TestApp, backend: string) {
  const current = await keel.admin!.get('/api/settings').expect(200);
  return keel
    .admin!.patch('/api/settings', { values: { sessionCache: { backend } } })
    .set('If-Match', current.headers.etag);
}

describe('a swap to a Redis that cannot be reached', () => {
  let keel: TestApp;
  beforeAll(async () => {
    // Nothing listens on this port: the preflight must refuse the change.
    const port = await freePort();
    keel = await startTestApp({
      admin: true,
      sessionBackend: 'memory',
      env: { REDIS_URL: `redis://127.0.0.1:${port}` },
    });
    await createUser(keel, 'carol');
  });
  afterAll(async () => {
    await keel.close();
  });

  it('is refused with 422 backend_unavailable; the old backend keeps every session', async () => {
    const session = await login(keel.url, 'carol', TEST_PASSWORD);
    const started = Date.now();
    const response = await switchBackend(keel, 'redis');
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ statusCode: 422, code: 'backend_unavailable' });
    expect(Date.now() - started).toBeLessThan(5000);

    const settings = await keel.admin!.get('/api/settings').expect(200);
    expect(settings.body).toMatchObject({
      version: 0,
      values: { sessionCache: { backend: 'memory' } },
    });
    expect((await keel.admin!.get('/api/settings/history').expect(200)).body).toEqual([]);
    expect(await me(keel.url, session)).toEqual({ status: 200, userId: session.userId });
    await keel.admin!.get('/api/auth/me').expect(200);
    const runtime = await keel.admin!.get('/api/runtime').expect(200);
    expect(runtime.body.sessionCache).toMatchObject({ backend: 'memory', swapping: false });
  });
});

describeWithRedisServer('the Redis backend goes down and comes back', () => {
  let keel: TestApp;
  let redis: OwnRedisServer;
  let redisDir: string;

  beforeAll(async () => {
    redisDir = mkdtempSync(join(tmpdir(), 'keel-redis-'));
    redis = new OwnRedisServer(await freePort(), redisDir);
    await redis.start();
    // Starts on memory and moves to redis: sessions made before the move must survive it.
    keel = await startTestApp({
      admin: true,
      sessionBackend: 'memory',
      env: { REDIS_URL: redis.url },
    });
    await createUser(keel, 'dave');
    expect((await switchBackend(keel, 'redis')).status).toBe(200);
  });
  afterAll(async () => {
    await keel.close();
    await redis.kill();
    rmSync(redisDir, { recursive: true, force: true });
  });

  it('503 session_store_unavailable and readiness 503 while down, liveness 200; then it recovers', async () => {
    const session = await login(keel.url, 'dave', TEST_PASSWORD);
    expect((await me(keel.url, session)).status).toBe(200);

    await redis.kill();
    const down = await fetch(`${keel.url}/api/auth/me`, { headers: { cookie: session.cookie } });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      statusCode: 503,
      code: 'session_store_unavailable',
    });
    // A new visitor cannot sign in either, and is told why; its CSRF token needs no store.
    const signingIn = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'dave', password: TEST_PASSWORD });
    expect(signingIn.status).toBe(503);
    expect(signingIn.body).toMatchObject({ code: 'session_store_unavailable' });
    await request(keel.url).get('/api/auth/csrf').expect(200);

    const ready = await request(keel.url).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toHaveProperty('sessionCache');
    await request(keel.url).get('/health/live').expect(200);

    await redis.start();
    // The backend reconnects by itself; the session (persisted by Redis) is still there.
    const deadline = Date.now() + 10000;
    let answer = await me(keel.url, session).catch(() => ({ status: 0 }));
    while (answer.status !== 200 && Date.now() < deadline) {
      await sleep(100);
      answer = await me(keel.url, session).catch(() => ({ status: 0 }));
    }
    expect(answer).toEqual({ status: 200, userId: session.userId });
    await request(keel.url).get('/health/ready').expect(200);
  });
});
