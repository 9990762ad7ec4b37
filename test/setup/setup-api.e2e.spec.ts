import request from 'supertest';
import { SettingsService } from '../../src/settings/settings.service.js';
import { PasswordHasher } from '../../src/users/password-hasher.js';
import { describeWithRedisServer, freePort, OwnRedisServer } from '../support/redis-server.js';
import { REDIS_URL } from '../support/services.js';
import { startTestApp, TEST_SCRYPT_PARAMETERS, type TestApp } from '../support/test-app.js';
import { ADMIN, printedToken, setupRow, userCount } from './setup-helpers.js';

/** Setup is still required and nothing it would write exists. */
async function expectNothingWritten(keel: TestApp): Promise<void> {
  expect(await userCount(keel)).toBe(0);
  expect((await setupRow(keel)).completed_at).toBeNull();
  const settings = keel.app.get(SettingsService);
  expect((await settings.refresh()).version).toBe(0);
  expect((await request(keel.url).get('/api/setup').expect(200)).body).toEqual({ required: true });
}

describe('POST /api/setup', () => {
  let keel: TestApp;
  beforeEach(async () => {
    keel = await startTestApp({ completeSetup: false });
  });
  afterEach(async () => {
    await keel.close();
  });

  it('creates the admin, signs it in (201, user, csrfToken, session cookie) and records who', async () => {
    const agent = request.agent(keel.url);
    const response = await agent
      .post('/api/setup')
      .send({ token: printedToken(keel), admin: { ...ADMIN, email: 'root@example.com' } })
      .expect(201);
    expect(response.body).toEqual({
      user: { id: expect.any(String), username: 'root', email: 'root@example.com', role: 'admin' },
      csrfToken: expect.any(String),
    });
    expect(String(response.headers['set-cookie'])).toMatch(/^keel\.sid=.*HttpOnly/);
    expect((await agent.get('/api/auth/me').expect(200)).body.user).toEqual(response.body.user);
    // The session is a real one: an unsafe request needs its CSRF token.
    await agent.get('/api/users').expect(200);
    await agent.post('/api/auth/logout').expect(403);
    await agent.post('/api/auth/logout').set('X-CSRF-Token', response.body.csrfToken).expect(204);
    expect((await setupRow(keel)).admin_user_id).toBe(response.body.user.id);
  });

  it('validates the admin like any user, naming nested fields (admin.password), and writes nothing', async () => {
    const token = printedToken(keel);
    const cases: [object, string[]][] = [
      [{ token, admin: { ...ADMIN, password: 'too short' } }, ['admin.password']],
      [
        { token, admin: { username: 'no spaces allowed', password: 'x' } },
        ['admin.username', 'admin.password'],
      ],
      [{ token, admin: { ...ADMIN, email: 'not an email' } }, ['admin.email']],
      [{ token, admin: { ...ADMIN, role: 'member' } }, ['admin.role']],
      [{ token, admin: ADMIN, extra: true }, ['extra']],
      [{ token }, ['admin']],
      [{ token, admin: ADMIN, settings: 'memory' }, ['settings']],
    ];
    for (const [body, fields] of cases) {
      const response = await request(keel.url).post('/api/setup').send(body).expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(
        [...new Set(response.body.fields.map((f: { field: string }) => f.field))].sort(),
      ).toEqual([...fields].sort());
      expect(JSON.stringify(response.body)).not.toContain(token);
    }
    const short = await request(keel.url)
      .post('/api/setup')
      .send({ token, admin: { ...ADMIN, password: 'short' } });
    expect(short.body.fields).toEqual([
      { field: 'admin.password', message: 'password must be 12 to 256 characters' },
    ]);
    await expectNothingWritten(keel);
  });

  it('applies initial settings through SettingsService: version 1, a history row by the admin', async () => {
    const response = await request(keel.url)
      .post('/api/setup')
      .send({
        token: printedToken(keel),
        admin: ADMIN,
        settings: { siteName: 'Acme', sessionCache: { backend: 'database' } },
      })
      .expect(201);
    const admin = request.agent(keel.url);
    await admin.post('/api/auth/login').send(ADMIN).expect(200);
    const settings = await admin.get('/api/settings').expect(200);
    expect(settings.headers.etag).toBe('"1"');
    expect(settings.body.values).toMatchObject({
      siteName: 'Acme',
      sessionCache: { backend: 'database' },
    });
    expect((await admin.get('/api/settings/history').expect(200)).body).toEqual([
      {
        version: 1,
        changedAt: expect.any(String),
        changedBy: 'root',
        changes: {
          siteName: { from: 'Keel', to: 'Acme' },
          'sessionCache.backend': { from: 'memory', to: 'database' },
        },
      },
    ]);
    // The swap ran (settings.changed), and the admin's session from setup lives in the new backend.
    const runtime = await admin.get('/api/runtime').expect(200);
    expect(runtime.body.sessionCache).toMatchObject({ backend: 'database', swapping: false });
    const signedIn = await keel.app
      .get((await import('../../src/database/database.service.js')).DatabaseService)
      .db.selectFrom('sessions')
      .select('user_id')
      .where('user_id', '=', response.body.user.id)
      .execute();
    expect(signedIn.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses invalid settings with 400 naming settings.<key>, before writing anything', async () => {
    const token = printedToken(keel);
    const cases: [object, { field: string; message: string }[]][] = [
      [
        { session: { idleTimeoutSeconds: 0 } },
        [
          {
            field: 'settings.session.idleTimeoutSeconds',
            message: 'idleTimeoutSeconds must be at least 1',
          },
        ],
      ],
      [
        { PORT: 1 },
        [{ field: 'settings.PORT', message: expect.stringMatching(/bootstrap setting/) }],
      ],
      [{ nope: true }, [{ field: 'settings.nope', message: expect.any(String) }]],
    ];
    for (const [settings, fields] of cases) {
      const response = await request(keel.url)
        .post('/api/setup')
        .send({ token, admin: ADMIN, settings })
        .expect(400);
      expect(response.body.fields).toEqual(fields);
    }
    await expectNothingWritten(keel);
  });
});

describe('POST /api/setup with a session-cache backend that cannot be reached', () => {
  it('is 422 backend_unavailable and nothing is written; setup can then complete without it', async () => {
    // Port 1 refuses connections: a Redis that is down.
    // On memory, pinned: REDIS_URL alone would make redis the default.
    const keel = await startTestApp({
      completeSetup: false,
      sessionBackend: 'memory',
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
    });
    try {
      const token = printedToken(keel);
      const response = await request(keel.url)
        .post('/api/setup')
        .send({ token, admin: ADMIN, settings: { sessionCache: { backend: 'redis' } } })
        .expect(422);
      expect(response.body).toMatchObject({ statusCode: 422, code: 'backend_unavailable' });
      expect(response.body.message).toMatch(/redis session backend cannot be reached/);
      await expectNothingWritten(keel);
      // The token is still good: the operator picks another backend.
      await request(keel.url)
        .post('/api/setup')
        .send({ token, admin: ADMIN, settings: { sessionCache: { backend: 'memory' } } })
        .expect(201);
    } finally {
      await keel.close();
    }
  });
});

(REDIS_URL ? describe : describe.skip)('POST /api/setup choosing redis', () => {
  it('swaps the session cache to the reachable Redis', async () => {
    const keel = await startTestApp({
      completeSetup: false,
      // Starts on memory, so that choosing redis at setup is a swap.
      sessionBackend: 'memory',
      env: { REDIS_URL: REDIS_URL!, REDIS_PREFIX: `keel_setup_${process.pid}:` },
    });
    try {
      const agent = request.agent(keel.url);
      await agent
        .post('/api/setup')
        .send({
          token: printedToken(keel),
          admin: ADMIN,
          settings: { sessionCache: { backend: 'redis' } },
        })
        .expect(201);
      const runtime = await agent.get('/api/runtime').expect(200);
      expect(runtime.body.sessionCache).toMatchObject({ backend: 'redis', swapping: false });
    } finally {
      await keel.close();
    }
  });
});

/** Holds the next password hash until released: a moment inside setup, after its checks. */
class HeldHasher extends PasswordHasher {
  private gate: { entered: () => void; released: Promise<void> } | undefined;

  hold(): { entered: Promise<void>; release: () => void } {
    let entered!: () => void;
    let release!: () => void;
    const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
    this.gate = { entered, released: new Promise((resolve) => (release = resolve)) };
    return { entered: enteredPromise, release };
  }

  override async hash(password: string): Promise<string> {
    const gate = this.gate;
    this.gate = undefined;
    if (gate) {
      gate.entered();
      await gate.released;
    }
    return super.hash(password);
  }
}

describeWithRedisServer('POST /api/setup whose initial settings fail after the checks', () => {
  it('completes (201, the admin signed in, the token spent) and says the settings were not applied', async () => {
    const redis = new OwnRedisServer(await freePort());
    await redis.start();
    const hasher = new HeldHasher(TEST_SCRYPT_PARAMETERS);
    const keel = await startTestApp({
      completeSetup: false,
      sessionBackend: 'memory',
      env: { REDIS_URL: redis.url },
      overrideProviders: [{ token: PasswordHasher, value: hasher }],
    });
    try {
      const held = hasher.hold();
      const agent = request.agent(keel.url);
      const setup = agent
        .post('/api/setup')
        .send({
          token: printedToken(keel),
          admin: ADMIN,
          settings: { sessionCache: { backend: 'redis' } },
        })
        .then((response) => response);
      // The settings passed their check (Redis answered); now Redis goes away.
      await held.entered;
      await redis.kill();
      held.release();
      const response = await setup;
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        user: expect.objectContaining({ username: ADMIN.username, role: 'admin' }),
        csrfToken: expect.any(String),
        settings: { applied: false, error: expect.stringMatching(/redis/) },
      });
      const status = await request(keel.url).get('/api/setup').expect(200);
      expect(status.body).toEqual({ required: false, completedAt: expect.any(String) });
      // The defaults are in force, and the new admin's session works on them.
      const settings = await agent.get('/api/settings').expect(200);
      expect(settings.body.version).toBe(0);
      expect(settings.body.values.sessionCache.backend).toBe('memory');
      const runtime = await agent.get('/api/runtime').expect(200);
      expect(runtime.body.sessionCache).toMatchObject({ backend: 'memory', desired: 'memory' });
    } finally {
      await keel.close();
      await redis.kill();
    }
  });
});
