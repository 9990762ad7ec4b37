import request from 'supertest';
import { REDIS_URL, uniqueName } from '../support/services.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('login attempts are limited per username and per address', () => {
  let keel: TestApp;
  beforeAll(async () => {
    // Two trusted proxy hops let the test present different client addresses.
    keel = await startTestApp({ admin: true, env: { TRUST_PROXY: 'loopback' } });
    await createUser(keel, 'victim');
    await createUser(keel, 'bystander');
    const current = await keel.admin!.get('/api/settings').expect(200);
    await keel
      .admin!.patch('/api/settings', { values: { auth: { loginMaxAttempts: 3 } } })
      .set('If-Match', current.headers.etag)
      .expect(200);
  });
  afterAll(async () => {
    await keel.close();
  });

  const attempt = (username: string, password: string, ip: string) =>
    request(keel.url)
      .post('/api/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ username, password });

  it('after loginMaxAttempts failures: 429 with Retry-After, even for the right password', async () => {
    for (let i = 0; i < 3; i++) {
      await attempt('victim', 'wrong password number ' + i, `10.0.0.${i + 1}`).expect(401);
    }
    const blocked = await attempt('victim', TEST_PASSWORD, '10.0.0.9').expect(429);
    expect(blocked.body).toMatchObject({ statusCode: 429, code: 'too_many_requests' });
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // Another user from another address is not blocked.
    await attempt('bystander', TEST_PASSWORD, '10.0.1.1').expect(200);
  });

  it('an address that fails for many usernames is blocked, for every username', async () => {
    for (const name of ['nobody1', 'nobody2', 'nobody3']) {
      await attempt(name, 'whatever password', '10.9.9.9').expect(401);
    }
    await attempt('bystander', TEST_PASSWORD, '10.9.9.9').expect(429);
    await attempt('bystander', TEST_PASSWORD, '10.9.9.10').expect(200);
  });

  it('the window passes: after it, the right password works again', async () => {
    const limiter = keel.app.get(
      (await import('../../src/auth/login-attempts.js')).LoginAttemptLimiter,
    );
    await createUser(keel, 'patient');
    for (let i = 0; i < 3; i++)
      await attempt('patient', 'wrong password again', '10.5.5.5').expect(401);
    await attempt('patient', TEST_PASSWORD, '10.5.5.6').expect(429);
    // Windows are 15 minutes; rather than wait, move this test's clock past them.
    const realNow = Date.now;
    Date.now = () => realNow() + 15 * 60 * 1000 + 1000;
    try {
      await limiter.check('login', 'patient', '10.5.5.6');
      await attempt('patient', TEST_PASSWORD, '10.5.5.6').expect(200);
    } finally {
      Date.now = realNow;
    }
  });
});

(REDIS_URL ? describe : describe.skip)('with REDIS_URL, the limit holds across replicas', () => {
  it('failures on one replica count on the other', async () => {
    const env = { REDIS_URL: REDIS_URL!, REDIS_PREFIX: `${uniqueName('keel_limit')}:` };
    const replicas = [await startTestApp({ env }), await startTestApp({ env })];
    try {
      for (const replica of replicas) await createUser(replica, 'roamer');
      const fail = (replica: TestApp) =>
        request(replica.url)
          .post('/api/auth/login')
          .send({ username: 'roamer', password: 'definitely wrong' });
      // The default limit is 10: alternate replicas.
      for (let i = 0; i < 10; i++) expect((await fail(replicas[i % 2])).status).toBe(401);
      for (const replica of replicas) {
        await request(replica.url)
          .post('/api/auth/login')
          .send({ username: 'roamer', password: TEST_PASSWORD })
          .expect(429);
      }
    } finally {
      for (const replica of replicas) await replica.close();
    }
  });
});
