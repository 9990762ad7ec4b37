import request from 'supertest';
import { REDIS_URL, uniqueName } from '../support/services.js';
import { freePort } from '../support/redis-server.js';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
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

  it("a locked username's refusals do not count against the address (a shared NAT)", async () => {
    await createUser(keel, 'locked');
    await createUser(keel, 'neighbour');
    for (let i = 0; i < 3; i++)
      await attempt('locked', `wrong guess ${i}`, `10.7.0.${i + 1}`).expect(401);
    // The same office address asks for the locked user again and again: refused each time...
    for (let i = 0; i < 5; i++) await attempt('locked', TEST_PASSWORD, '10.7.7.7').expect(429);
    // ...and its other users still get in.
    await attempt('neighbour', TEST_PASSWORD, '10.7.7.7').expect(200);
  });

  it('the window passes: after it, the right password works again', async () => {
    await createUser(keel, 'patient');
    for (let i = 0; i < 3; i++)
      await attempt('patient', 'wrong password again', '10.5.5.5').expect(401);
    await attempt('patient', TEST_PASSWORD, '10.5.5.6').expect(429);
    // Windows are 15 minutes; rather than wait, move this test's clock past them.
    const realNow = Date.now;
    Date.now = () => realNow() + 15 * 60 * 1000 + 1000;
    try {
      await attempt('patient', TEST_PASSWORD, '10.5.5.6').expect(200);
    } finally {
      Date.now = realNow;
    }
  });
});

/** Answers of `count` requests sent at once, by status. */
async function statusesOf(count: number, send: (i: number) => request.Test) {
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => send(i)));
  const byStatus: Record<number, number> = {};
  for (const answer of answers) byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
  return byStatus;
}

async function setLoginMaxAttempts(keel: TestApp, max: number): Promise<void> {
  const current = await keel.admin!.get('/api/settings').expect(200);
  await keel
    .admin!.patch('/api/settings', { values: { auth: { loginMaxAttempts: max } } })
    .set('If-Match', current.headers.etag)
    .expect(200);
}

describe('the limit holds under concurrency (the attempt is counted before it is checked)', () => {
  let keel: TestApp;
  beforeAll(async () => {
    // The real scrypt (about 0.3 s each): the check is slow, as in production, so parallel
    // attempts really overlap it.
    keel = await startTestApp({
      admin: true,
      realPasswordHashing: true,
      env: { TRUST_PROXY: 'loopback' },
    });
    await setLoginMaxAttempts(keel, 5);
  });
  afterAll(async () => {
    await keel.close();
  });

  it('50 parallel wrong passwords for one username: at most 5 answers are 401, the rest 429', async () => {
    await createUser(keel, 'target');
    const statuses = await statusesOf(50, () =>
      request(keel.url)
        .post('/api/auth/login')
        .set('X-Forwarded-For', '10.1.1.1')
        .send({ username: 'target', password: 'wrong guess' }),
    );
    expect(statuses).toEqual({ 401: 5, 429: 45 });
  });

  it('50 parallel wrong current passwords: at most 5 are checked, the rest 429', async () => {
    await createUser(keel, 'changer');
    const changer = await signIn(keel, 'changer');
    const statuses = await statusesOf(50, () =>
      changer.post('/api/auth/password', {
        currentPassword: 'not my password',
        newPassword: 'a brand new passphrase',
      }),
    );
    expect(statuses).toEqual({ 400: 5, 429: 45 });
  });
});

describe('the setup token under concurrency', () => {
  it('50 parallel wrong tokens: at most loginMaxAttempts answers are 401, the rest 429', async () => {
    const fresh = await startTestApp({ completeSetup: false });
    try {
      const statuses = await statusesOf(50, (i) =>
        request(fresh.url)
          .post('/api/setup')
          .send({
            token: `wrong-token-${i}`,
            admin: { username: 'root', password: 'a long enough passphrase' },
          }),
      );
      expect(statuses).toEqual({ 401: 10, 429: 40 });
    } finally {
      await fresh.close();
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

  it('50 parallel wrong passwords spread over two replicas: at most loginMaxAttempts are 401', async () => {
    const env = { REDIS_URL: REDIS_URL!, REDIS_PREFIX: `${uniqueName('keel_limit')}:` };
    const replicas = [
      await startTestApp({ env, realPasswordHashing: true }),
      await startTestApp({ env, realPasswordHashing: true }),
    ];
    try {
      await createUser(replicas[0], 'crowd');
      const statuses = await statusesOf(50, (i) =>
        request(replicas[i % 2].url)
          .post('/api/auth/login')
          .send({ username: 'crowd', password: 'wrong again' }),
      );
      expect(statuses).toEqual({ 401: 10, 429: 40 });
    } finally {
      for (const replica of replicas) await replica.close();
    }
  });
});

(REDIS_URL ? describe : describe.skip)("while the counters' Redis cannot be reached", () => {
  it('each replica counts alone, and says so once, not once per attempt', async () => {
    const keel = await startTestApp({
      env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_PREFIX: 'keel_down:' },
    });
    try {
      await createUser(keel, 'offline');
      const statuses = await statusesOf(20, () =>
        request(keel.url)
          .post('/api/auth/login')
          .send({ username: 'offline', password: 'nope nope' }),
      );
      expect(statuses).toEqual({ 401: 10, 429: 10 });
      const outageLines = keel.logs.filter((line) =>
        /cannot be reached for attempt limits/.test(String(line.msg)),
      );
      expect(outageLines).toHaveLength(1);
    } finally {
      await keel.close();
    }
  });
});
