import { EventEmitter2 } from '@nestjs/event-emitter';
import request from 'supertest';
import { SettingsEvent } from '../../src/settings/settings.events.js';
import { createPostgresDatabase, POSTGRES_URL } from '../support/services.js';
import { createUser, signIn } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const DEFAULT_VALUES = {
  siteName: 'Keel',
  sessionCache: { backend: 'memory' },
  session: { idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 604800 },
  auth: { loginMaxAttempts: 10 },
};

/**
 * `sources` while nothing is overridden: every dotted key from its default, but the session
 * cache's, which the environment gives (here SQLite with no Redis, so memory).
 */
const DEFAULT_SOURCES = {
  siteName: 'default',
  'sessionCache.backend': 'environment',
  'session.idleTimeoutSeconds': 'default',
  'session.absoluteTimeoutSeconds': 'default',
  'auth.loginMaxAttempts': 'default',
};

const dialects: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe('settings API is admin only', () => {
  it('denies GET and PATCH to a caller who is not an admin, changing nothing', async () => {
    const keel = await startTestApp({ admin: true });
    try {
      // Anonymous: 401 unauthenticated.
      for (const response of [
        await request(keel.url).get('/api/settings'),
        await request(keel.url).get('/api/settings/history'),
        await request(keel.url)
          .patch('/api/settings')
          .set('If-Match', '"0"')
          .send({ values: { siteName: 'Owned' } }),
      ]) {
        expect(response.status).toBe(401);
        expect(response.body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
      }
      // A signed-in member (with a valid CSRF token): 403 forbidden.
      await createUser(keel, 'member', 'member');
      const member = await signIn(keel, 'member');
      for (const response of [
        await member.get('/api/settings'),
        await member.get('/api/settings/history'),
        await member
          .patch('/api/settings', { values: { siteName: 'Owned' } })
          .set('If-Match', '"0"'),
      ]) {
        expect(response.status).toBe(403);
        expect(response.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
      }
      const admin = keel.admin!;
      expect((await admin.get('/api/settings').expect(200)).body).toEqual({
        version: 0,
        values: DEFAULT_VALUES,
        sources: DEFAULT_SOURCES,
      });
      expect((await admin.get('/api/settings/history').expect(200)).body).toEqual([]);
    } finally {
      await keel.close();
    }
  });
});

describe.each(dialects)('runtime settings on %s', (dialect) => {
  let keel: TestApp;
  beforeEach(async () => {
    // On either database the cache starts on memory, the environment's default on SQLite.
    keel = await startTestApp({ dialect, admin: true, sessionBackend: 'memory' });
  });
  afterEach(async () => {
    await keel.close();
  });

  const get = () => keel.admin!.get('/api/settings');
  const patch = (ifMatch: string | undefined, body: unknown) => {
    const req = keel.admin!.patch('/api/settings', body as object);
    if (ifMatch !== undefined) req.set('If-Match', ifMatch);
    return req;
  };
  const history = async () => (await keel.admin!.get('/api/settings/history').expect(200)).body;

  it('starts at version 0 with the defaults and an ETag', async () => {
    const response = await get().expect(200);
    expect(response.body).toEqual({ version: 0, values: DEFAULT_VALUES, sources: DEFAULT_SOURCES });
    expect(response.headers.etag).toBe('"0"');
    expect(await history()).toEqual([]);
  });

  it('applies a merge patch with the current If-Match and records it in history', async () => {
    const response = await patch('"0"', {
      values: { siteName: 'Acme', session: { idleTimeoutSeconds: 600 } },
    }).expect(200);
    expect(response.headers.etag).toBe('"1"');
    expect(response.body).toEqual({
      version: 1,
      values: {
        ...DEFAULT_VALUES,
        siteName: 'Acme',
        session: { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 604800 },
      },
      sources: {
        ...DEFAULT_SOURCES,
        siteName: 'override',
        'session.idleTimeoutSeconds': 'override',
      },
    });
    expect((await get()).body.version).toBe(1);
    const [entry, ...rest] = await history();
    expect(rest).toEqual([]);
    expect(entry).toEqual({
      version: 1,
      changedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      changedBy: 'admin',
      changes: {
        siteName: { from: 'Keel', to: 'Acme' },
        'session.idleTimeoutSeconds': { from: 1800, to: 600 },
      },
    });
  });

  it('resets a key to its default with null', async () => {
    await patch('"0"', { values: { siteName: 'Acme' } }).expect(200);
    const response = await patch('"1"', { values: { siteName: null } }).expect(200);
    expect(response.body.values.siteName).toBe('Keel');
    expect(response.body.sources).toEqual(DEFAULT_SOURCES);
    expect(response.body.version).toBe(2);
  });

  it('requires If-Match (428) and refuses a stale one (412)', async () => {
    const missing = await patch(undefined, { values: { siteName: 'X' } }).expect(428);
    expect(missing.body.code).toBe('precondition_required');
    await patch('"0"', { values: { siteName: 'First' } }).expect(200);
    const stale = await patch('"0"', { values: { siteName: 'Second' } }).expect(412);
    expect(stale.body.code).toBe('version_conflict');
    const garbled = await patch('three', { values: { siteName: 'Third' } }).expect(412);
    expect(garbled.body.code).toBe('version_conflict');
    expect((await get()).body.values.siteName).toBe('First');
  });

  it.each([
    [
      'a wrong type',
      { session: { idleTimeoutSeconds: '600' } },
      'values.session.idleTimeoutSeconds',
    ],
    ['an out-of-range value', { auth: { loginMaxAttempts: 0 } }, 'values.auth.loginMaxAttempts'],
    [
      'an unknown backend',
      { sessionCache: { backend: 'memcached' } },
      'values.sessionCache.backend',
    ],
    ['an unknown key', { colour: 'blue' }, 'values.colour'],
    ['an unknown nested key', { session: { forever: true } }, 'values.session.forever'],
    ['a bootstrap key', { PORT: 8080 }, 'values.PORT'],
    ['a bootstrap key in camelCase', { databaseUrl: 'postgres://x' }, 'values.databaseUrl'],
    [
      'idle longer than absolute',
      { session: { idleTimeoutSeconds: 700000 } },
      'values.session.idleTimeoutSeconds',
    ],
    ['a constructor key', { constructor: { x: 1 } }, 'constructor'],
    ['a non-object section', { session: 5 }, 'values.session'],
  ])('rejects %s with 400 naming the field, changing nothing', async (_what, values, field) => {
    const response = await patch('"0"', { values }).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    expect(response.body.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect((await get()).body).toEqual({
      version: 0,
      values: DEFAULT_VALUES,
      sources: DEFAULT_SOURCES,
    });
    expect(await history()).toEqual([]);
  });

  it('rejects a body without values, or with unknown fields', async () => {
    const noValues = await patch('"0"', {}).expect(400);
    expect(noValues.body.fields.map((f: { field: string }) => f.field)).toContain('values');
    const extra = await patch('"0"', { values: { siteName: 'X' }, force: true }).expect(400);
    expect(extra.body.fields.map((f: { field: string }) => f.field)).toContain('force');
    const proto = await keel
      .admin!.agent.patch('/api/settings')
      .set('X-CSRF-Token', keel.admin!.csrfToken)
      .set('If-Match', '"0"')
      .set('Content-Type', 'application/json')
      .send('{"values": {"__proto__": {"polluted": true}}}')
      .expect(400);
    expect(proto.body).toMatchObject({
      code: 'validation_failed',
      fields: [{ field: '__proto__' }],
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await get()).body.version).toBe(0);
  });

  it('a preflight "no" leaves version, values and history untouched and emits nothing', async () => {
    const events = keel.app.get(EventEmitter2);
    const changed: unknown[] = [];
    const onChanged = (event: unknown) => changed.push(event);
    const refuse = () => ({ refuse: true, message: 'The database session backend is unreachable' });
    events.on(SettingsEvent.Changed, onChanged);
    events.on(SettingsEvent.Preflight, refuse);
    try {
      const response = await patch('"0"', {
        // A backend the real preflight accepts, so this listener's "no" is the one answered.
        values: { sessionCache: { backend: 'database' } },
      }).expect(422);
      expect(response.body).toEqual({
        statusCode: 422,
        code: 'backend_unavailable',
        message: 'The database session backend is unreachable',
      });
      expect((await get()).body).toEqual({
        version: 0,
        values: DEFAULT_VALUES,
        sources: DEFAULT_SOURCES,
      });
      expect(await history()).toEqual([]);
      expect(changed).toEqual([]);
    } finally {
      events.off(SettingsEvent.Preflight, refuse);
    }
    await patch('"0"', { values: { siteName: 'After' } }).expect(200);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({
      previous: { version: 0 },
      next: { version: 1, values: { siteName: 'After' } },
      changedKeys: ['siteName'],
      origin: 'local',
    });
    events.off(SettingsEvent.Changed, onChanged);
  });

  it('20 concurrent PATCHes with one If-Match: exactly one wins, the rest get 412', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => patch('"0"', { values: { siteName: `Racer ${i}` } })),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const winner = responses.find((r) => r.status === 200)!.body.values.siteName;
    expect((await get()).body).toMatchObject({ version: 1, values: { siteName: winner } });
    const rows = await history();
    expect(rows).toHaveLength(1);
    expect(rows[0].changes.siteName.to).toBe(winner);
    expect(rows[0].changedBy).toBe('admin');
  });

  it('a failing settings.changed listener is reported in runtime state; the change stays', async () => {
    const events = keel.app.get(EventEmitter2);
    const failing = async () => {
      throw new Error('listener exploded');
    };
    events.on(SettingsEvent.Changed, failing);
    try {
      await patch('"0"', { values: { siteName: 'Sturdy' } }).expect(200);
    } finally {
      events.off(SettingsEvent.Changed, failing);
    }
    expect((await get()).body).toMatchObject({ version: 1, values: { siteName: 'Sturdy' } });
    const runtime = await keel.admin!.get('/api/runtime').expect(200);
    expect(runtime.body.listenerFailures).toEqual([
      expect.objectContaining({ source: 'settings.changed', message: 'listener exploded' }),
    ]);
  });

  it('a restart keeps the last persisted settings', async () => {
    await patch('"0"', { values: { siteName: 'Durable', auth: { loginMaxAttempts: 3 } } }).expect(
      200,
    );
    const { dataDir, databaseUrl } = keel;
    await keel.close({ keepData: true });
    // The admin user was persisted too: sign it in again (sessions were in memory).
    keel = await startTestApp({ dialect, dataDir, databaseUrl, adoptData: true });
    keel.admin = await signIn(keel, 'admin');
    const response = await get().expect(200);
    expect(response.body).toMatchObject({
      version: 1,
      values: { siteName: 'Durable', auth: { loginMaxAttempts: 3 } },
    });
  });
});

(POSTGRES_URL ? describe : describe.skip)('settings on two replicas of one PostgreSQL', () => {
  it('concurrent PATCHes across replicas: one winner; a stale replica catches up when asked', async () => {
    const database = await createPostgresDatabase();
    // One admin user in the shared database, signed in on each replica (memory sessions).
    const a = await startTestApp({ admin: true, databaseUrl: database.url });
    const b = await startTestApp({ databaseUrl: database.url });
    try {
      const onA = a.admin!;
      const onB = await signIn(b, 'admin');
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? onA : onB)
            .patch('/api/settings', { values: { siteName: `Replica racer ${i}` } })
            .set('If-Match', '"0"'),
        ),
      );
      expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 412)).toHaveLength(19);
      const history = (await onA.get('/api/settings/history').expect(200)).body;
      expect(history).toHaveLength(1);
      expect(history[0].changedBy).toBe('admin');
      // A stale replica that is asked to change catches up first, and reports the conflict.
      for (const client of [onA, onB]) {
        const stale = await client
          .patch('/api/settings', { values: { siteName: 'late' } })
          .set('If-Match', '"0"')
          .expect(412);
        expect(stale.body.message).toMatch(/version 1/);
      }
      const [fromA, fromB] = await Promise.all([
        onA.get('/api/settings').expect(200),
        onB.get('/api/settings').expect(200),
      ]);
      expect(fromA.body).toEqual(fromB.body);
    } finally {
      await a.close({ keepData: true });
      await b.close({ keepData: true });
      await database.drop();
    }
  });
});
