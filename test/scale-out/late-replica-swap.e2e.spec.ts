import { DatabaseService } from '../../src/database/database.service.js';
import { InstanceRegistry } from '../../src/replicas/instance-registry.js';
import { REPLICA_TIMINGS } from '../../src/replicas/replica-timings.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { SETTINGS_ANNOUNCER } from '../../src/scale-out/settings-announcer.js';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import { type CookieSession, login, logout, me, sidOf } from '../support/http-client.js';
import {
  clearRedisPrefix,
  createPostgresDatabase,
  POSTGRES_URL,
  REDIS_URL,
  type TemporaryDatabase,
  uniqueName,
} from '../support/services.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from './replica-cluster.js';

// A swap between shared backends while one replica is late: it has not heard of the change,
// so it still reads and writes the old backend alone. Replica B here hears of nothing by
// itself (no announcer, a reconciliation far away), so the test decides when it catches up.
// Nothing a user did on the late replica may be lost or undone once everyone has switched.

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'a session-cache swap with a late replica',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_late')}:`;
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      // One signing secret, as every replica of a deployment has.
      const env = {
        REDIS_URL: REDIS_URL!,
        REDIS_PREFIX: prefix,
        SESSION_SECRET: 'late-replica-test-secret-0123456789abcdef012345',
      };
      const timings = { heartbeatIntervalMs: 300, reconcileIntervalMs: 600_000 };
      // Both on redis from the start (as their environment names it), then a swap to database.
      a = await startTestApp({
        databaseUrl: database.url,
        env,
        sessionBackend: 'redis',
        admin: true,
        overrideProviders: [{ token: REPLICA_TIMINGS, value: timings }],
      });
      b = await startTestApp({
        databaseUrl: database.url,
        env,
        sessionBackend: 'redis',
        overrideProviders: [
          { token: REPLICA_TIMINGS, value: timings },
          { token: SETTINGS_ANNOUNCER, value: null },
        ],
      });
      await createUser(a, 'alice');
      await waitUntil('both replicas see each other', async () => {
        const live = await a.app.get(InstanceRegistry).live();
        return live.length === 2;
      });
    });

    afterAll(async () => {
      await b?.close();
      await a?.close();
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    it('keeps what the late replica wrote to the old backend: new sessions stay, ended ones stay ended', async () => {
      const before: CookieSession = await login(a.url, 'alice', TEST_PASSWORD);
      const endedLate: CookieSession = await login(b.url, 'alice', TEST_PASSWORD);
      const adminSessions = await a.app.get(SessionCacheService).userSessions.list(a.admin!.userId);
      expect(adminSessions).toHaveLength(1);

      // Accepted by A, which copies redis -> database and then waits for B to switch.
      const settings = a.app.get(SettingsService);
      await settings.update(
        { sessionCache: { backend: 'database' } },
        settings.current.version,
        'test',
      );
      expect(b.app.get(SettingsService).current.values.sessionCache.backend).toBe('redis');
      expect(a.app.get(RuntimeStateService).sessionCacheStatus).toMatchObject({
        backend: 'database',
        swapping: true,
      });

      // B, late, writes redis alone: one session starts, one ends.
      const startedLate = await login(b.url, 'alice', TEST_PASSWORD);
      expect(await logout(b.url, endedLate)).toBe(204);
      // A reads the old backend (the one every replica writes) until all have switched.
      expect(await me(a.url, startedLate)).toEqual({ status: 200, userId: startedLate.userId });
      expect((await me(a.url, endedLate)).status).toBe(401);

      // B catches up (an announcement or the reconciliation would call this).
      await b.app.get(SettingsService).refresh();
      await waitUntil('both replicas on database alone', async () =>
        [a, b].every((app) => {
          const status = app.app.get(RuntimeStateService).sessionCacheStatus;
          return status.backend === 'database' && !status.swapping;
        }),
      );
      // Exactly these sessions moved: the admin's, the one from before, the one started late.
      const rows = await a.app
        .get(DatabaseService)
        .db.selectFrom('sessions')
        .select('sid')
        .execute();
      expect(rows.map((row) => row.sid).sort()).toEqual(
        [adminSessions[0].sid, sidOf(before), sidOf(startedLate)].sort(),
      );

      for (const app of [a, b]) {
        expect(await me(app.url, before)).toEqual({ status: 200, userId: before.userId });
        expect(await me(app.url, startedLate)).toEqual({ status: 200, userId: startedLate.userId });
        expect((await me(app.url, endedLate)).status).toBe(401);
      }
    });
  },
);
