import request from 'supertest';
import { DatabaseService } from '../../src/database/database.service.js';
import { ADMIN, printedToken } from '../setup/setup-helpers.js';
import { login, me } from '../support/http-client.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Every settings group is an object (or null, which resets it) and every leaf has its type,
// at PATCH, at setup, and when the stored row is loaded: a hostile or mistaken shape is a 400
// naming the key and stores nothing; a stored row that is wrong never locks anyone out.

const WRONG_SHAPES: [Record<string, unknown>, string][] = [
  [{ auth: [] }, 'auth'],
  [{ session: [] }, 'session'],
  [{ sessionCache: [] }, 'sessionCache'],
  [{ auth: [{ loginMaxAttempts: 5 }] }, 'auth'],
  [{ auth: 5 }, 'auth'],
  [{ session: 'long' }, 'session'],
  [{ sessionCache: true }, 'sessionCache'],
  [{ session: { idleTimeoutSeconds: '60' } }, 'session.idleTimeoutSeconds'],
  [{ session: { absoluteTimeoutSeconds: [604800] } }, 'session.absoluteTimeoutSeconds'],
  [{ auth: { loginMaxAttempts: '5' } }, 'auth.loginMaxAttempts'],
  [{ sessionCache: { backend: ['redis'] } }, 'sessionCache.backend'],
  [{ siteName: 5 }, 'siteName'],
  [{ siteName: { name: 'Keel' } }, 'siteName'],
];

describe('settings shapes at PATCH', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it.each(WRONG_SHAPES)('%j: 400 naming %s, nothing stored', async (values, key) => {
    const before = await keel.admin!.get('/api/settings').expect(200);
    const history = await keel.admin!.get('/api/settings/history').expect(200);
    const refused = await keel
      .admin!.patch('/api/settings', { values })
      .set('If-Match', before.headers.etag)
      .expect(400);
    expect(refused.body.code).toBe('validation_failed');
    expect(refused.body.fields.map((f: { field: string }) => f.field)).toContain(`values.${key}`);
    expect((await keel.admin!.get('/api/settings').expect(200)).body).toEqual(before.body);
    expect((await keel.admin!.get('/api/settings/history').expect(200)).body).toEqual(history.body);
  });

  it('null still resets a whole group (RFC 7396)', async () => {
    const start = await keel.admin!.get('/api/settings').expect(200);
    const changed = await keel
      .admin!.patch('/api/settings', { values: { auth: { loginMaxAttempts: 7 } } })
      .set('If-Match', start.headers.etag)
      .expect(200);
    expect(changed.body.values.auth).toEqual({ loginMaxAttempts: 7 });
    const reset = await keel
      .admin!.patch('/api/settings', { values: { auth: null } })
      .set('If-Match', changed.headers.etag)
      .expect(200);
    expect(reset.body.values.auth).toEqual({ loginMaxAttempts: 10 });
  });
});

describe('settings shapes at setup', () => {
  it.each(WRONG_SHAPES)(
    '%j: 400 naming settings.%s; no admin, setup still required',
    async (settings, key) => {
      const fresh = await startTestApp({ completeSetup: false });
      try {
        const refused = await request(fresh.url)
          .post('/api/setup')
          .send({ token: printedToken(fresh), admin: ADMIN, settings })
          .expect(400);
        expect(refused.body.fields.map((f: { field: string }) => f.field)).toContain(
          `settings.${key}`,
        );
        await request(fresh.url).get('/api/setup').expect(200, { required: true });
      } finally {
        await fresh.close();
      }
    },
  );
});

describe('a stored settings row that is wrong (by hand, or an older version)', () => {
  it('boots, everyone can sign in, the bad keys fall back to defaults and are reported until a change replaces them', async () => {
    const first = await startTestApp({ admin: true });
    const { dataDir } = first;
    // Valid overrides beside hand-made nonsense, as someone editing the row might leave it.
    const corrupt = {
      auth: [],
      session: { idleTimeoutSeconds: '60', absoluteTimeoutSeconds: 7200 },
      sessionCache: { backend: 'floppy' },
      siteName: 'Handmade',
      colour: 'blue',
    };
    await first.app
      .get(DatabaseService)
      .db.updateTable('settings')
      .set({ overrides: JSON.stringify(corrupt), version: 3 })
      .execute();
    await first.close({ keepData: true });

    const keel = await startTestApp({ dataDir, adoptData: true, admin: true });
    try {
      const settings = await keel.admin!.get('/api/settings').expect(200);
      expect(settings.body).toEqual({
        version: 3,
        values: {
          siteName: 'Handmade',
          sessionCache: { backend: 'memory' },
          session: { idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 7200 },
          auth: { loginMaxAttempts: 10 },
        },
        // Only the usable overrides count: the corrupt ones fell back to their defaults.
        sources: {
          siteName: 'override',
          'sessionCache.backend': 'environment',
          'session.idleTimeoutSeconds': 'default',
          'session.absoluteTimeoutSeconds': 'override',
          'auth.loginMaxAttempts': 'default',
        },
      });
      const session = await login(keel.url, 'admin', TEST_PASSWORD);
      expect((await me(keel.url, session)).status).toBe(200);

      const reported = (await keel.admin!.get('/api/runtime').expect(200)).body.invalidSettings as {
        key: string;
      }[];
      expect(reported.map((entry) => entry.key).sort()).toEqual([
        'auth',
        'colour',
        'session.idleTimeoutSeconds',
        'sessionCache.backend',
      ]);
      const line = keel.logs.find((entry) => /hold values Keel cannot use/.test(String(entry.msg)));
      expect(line).toMatchObject({ level: 50 });
      expect(String(line!.msg)).toMatch(/auth .*colour|colour.*auth/);

      // Any change now persists the usable overrides only; then nothing is reported.
      await keel
        .admin!.patch('/api/settings', { values: { siteName: 'Fixed' } })
        .set('If-Match', settings.headers.etag)
        .expect(200);
      expect((await keel.admin!.get('/api/runtime').expect(200)).body.invalidSettings).toEqual([]);
      const stored = await keel.app
        .get(DatabaseService)
        .db.selectFrom('settings')
        .select('overrides')
        .executeTakeFirstOrThrow();
      expect(JSON.parse(stored.overrides)).toEqual({
        siteName: 'Fixed',
        session: { absoluteTimeoutSeconds: 7200 },
      });
    } finally {
      await keel.close();
    }
  });
});
