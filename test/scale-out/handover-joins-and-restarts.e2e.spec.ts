import { REPLICA_TIMINGS } from '../../src/replicas/replica-timings.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { InstanceRegistry } from '../../src/replicas/instance-registry.js';
import { SETTINGS_ANNOUNCER } from '../../src/scale-out/settings-announcer.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import { type CookieSession, login, logout, me } from '../support/http-client.js';
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

// A swap between shared backends while replica B is late (it has not heard of the change and
// reads and writes the old backend alone; it hears of nothing by itself, so the test decides
// when it catches up). Replicas that start, or restart, during that handover must neither lose
// a session nor bring back one that ended.

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'replicas that start or restart during a session-cache handover',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_join')}:`;
    const env = {
      REDIS_URL: REDIS_URL!,
      REDIS_PREFIX: prefix,
      SESSION_SECRET: 'handover-test-secret-0123456789abcdef0123456789',
    };
    const timings = { heartbeatIntervalMs: 300, reconcileIntervalMs: 600_000 };
    const apps: TestApp[] = [];
    let a: TestApp;
    let b: TestApp;

    /** A replica that hears of settings changes only when the test calls refresh(). */
    async function startReplica(): Promise<TestApp> {
      const app = await startTestApp({
        databaseUrl: database.url,
        env,
        // The environment's backend, below what the settings store once A swapped.
        sessionBackend: 'redis',
        overrideProviders: [
          { token: REPLICA_TIMINGS, value: timings },
          { token: SETTINGS_ANNOUNCER, value: null },
        ],
      });
      apps.push(app);
      return app;
    }

    async function swapOnA(backend: 'redis' | 'database'): Promise<void> {
      const settings = a.app.get(SettingsService);
      await settings.update({ sessionCache: { backend } }, settings.current.version, 'test');
    }

    const status = (app: TestApp) => app.app.get(RuntimeStateService).sessionCacheStatus;

    async function handoverEnded(replicas: TestApp[], backend: string): Promise<void> {
      await waitUntil(
        `every replica on ${backend} alone`,
        async () =>
          replicas.every(
            (replica) => status(replica).backend === backend && !status(replica).swapping,
          ),
        20_000,
      );
    }

    async function expectOnAll(replicas: TestApp[], session: CookieSession, code: number) {
      for (const replica of replicas) {
        expect({ replica: replica.url, status: (await me(replica.url, session)).status }).toEqual({
          replica: replica.url,
          status: code,
        });
      }
    }

    beforeAll(async () => {
      database = await createPostgresDatabase();
      a = await startTestApp({
        databaseUrl: database.url,
        env,
        admin: true,
        sessionBackend: 'redis',
        overrideProviders: [{ token: REPLICA_TIMINGS, value: timings }],
      });
      apps.push(a);
      b = await startReplica();
      await createUser(a, 'alice');
      await waitUntil('A and B see each other', async () => {
        return (await a.app.get(InstanceRegistry).live()).length === 2;
      });
    });

    afterAll(async () => {
      for (const app of apps.reverse()) await app.close({ keepData: true });
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    it('a replica that starts mid-handover joins it: it reads and writes where the others read', async () => {
      const before = await login(a.url, 'alice', TEST_PASSWORD);
      await swapOnA('database');
      expect(status(a)).toMatchObject({ backend: 'database', swapping: true });
      expect(status(b)).toMatchObject({ backend: 'redis' });

      const c = await startReplica();
      expect(c.app.get(SettingsService).current.values.sessionCache.backend).toBe('database');
      expect(status(c)).toMatchObject({ backend: 'database', swapping: true });

      // What happens on C is seen at once on A and on late B (which reads redis alone).
      const startedOnC = await login(c.url, 'alice', TEST_PASSWORD);
      await expectOnAll([a, b, c], startedOnC, 200);
      expect(await logout(c.url, before)).toBe(204);
      await expectOnAll([a, b, c], before, 401);
      // And what late B does is seen on C.
      const startedOnB = await login(b.url, 'alice', TEST_PASSWORD);
      const endedOnB = await login(a.url, 'alice', TEST_PASSWORD);
      expect(await logout(b.url, endedOnB)).toBe(204);
      await expectOnAll([a, c], startedOnB, 200);
      await expectOnAll([a, c], endedOnB, 401);

      await b.app.get(SettingsService).refresh();
      await handoverEnded([a, b, c], 'database');
      for (const session of [startedOnC, startedOnB]) await expectOnAll([a, b, c], session, 200);
      for (const session of [before, endedOnB]) await expectOnAll([a, b, c], session, 401);
      await c.close();
      apps.splice(apps.indexOf(c), 1);
    });

    it('a late replica replaced mid-handover (its journal lost) costs no session and brings none back', async () => {
      await handoverEnded([a, b], 'database');
      const kept = await login(a.url, 'alice', TEST_PASSWORD);
      const endedLate = await login(b.url, 'alice', TEST_PASSWORD);
      await swapOnA('redis');
      expect(status(a)).toMatchObject({ backend: 'redis', swapping: true });

      // Late B writes the database alone: one session ends, one starts. Then it is replaced,
      // as a restarted pod would be (the new one comes up first, here, so that the handover
      // is still waiting for the old one while the new one starts): nothing remembers what
      // the old one did.
      expect(await logout(b.url, endedLate)).toBe(204);
      const startedLate = await login(b.url, 'alice', TEST_PASSWORD);
      const restarted = await startReplica();
      expect(status(restarted)).toMatchObject({ backend: 'redis', swapping: true });
      await b.close({ keepData: true });
      apps.splice(apps.indexOf(b), 1);
      b = restarted;
      // Joined: it reads the database, as A still does.
      await expectOnAll([a, b], startedLate, 200);
      await expectOnAll([a, b], endedLate, 401);

      await handoverEnded([a, b], 'redis');
      await expectOnAll([a, b], kept, 200);
      await expectOnAll([a, b], startedLate, 200);
      await expectOnAll([a, b], endedLate, 401);
      const reconciled = a.logs.concat(b.logs).find((line) => /reconciled/.test(String(line.msg)));
      expect(reconciled).toMatchObject({ handover: { from: 'database', to: 'redis' } });
    });

    it('a late replica that skipped versions (an unrelated change came after the swap) hands over all the same', async () => {
      await handoverEnded([a, b], 'redis');
      const kept = await login(a.url, 'alice', TEST_PASSWORD);
      await swapOnA('database');
      // Another change right after, of something else: B will jump over the swap's version.
      const settings = a.app.get(SettingsService);
      await settings.update({ siteName: 'Later' }, settings.current.version, 'test');
      const endedLate = await login(b.url, 'alice', TEST_PASSWORD);
      expect(await logout(b.url, endedLate)).toBe(204);
      const startedLate = await login(b.url, 'alice', TEST_PASSWORD);

      await b.app.get(SettingsService).refresh();
      await handoverEnded([a, b], 'database');
      // Both name the handover by the version that set the backend, not the latest one.
      const versions = (await a.app.get(InstanceRegistry).live()).map(
        (i) => i.sessionCache.version,
      );
      expect(new Set(versions).size).toBe(1);
      for (const session of [kept, startedLate]) await expectOnAll([a, b], session, 200);
      await expectOnAll([a, b], endedLate, 401);
    });
  },
);

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'a replica left behind by a handover (it did not switch within the limit)',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_behind')}:`;
    const env = {
      REDIS_URL: REDIS_URL!,
      REDIS_PREFIX: prefix,
      SESSION_SECRET: 'behind-test-secret-0123456789abcdef0123456789abc',
    };
    const apps: TestApp[] = [];

    afterAll(async () => {
      for (const app of apps.reverse()) await app.close({ keepData: true });
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    it('is not joined by a replica that starts, and when it switches it reads only the new backend', async () => {
      database = await createPostgresDatabase();
      // A waits for late replicas at most max(4 x 100 ms, 3 x 300 ms) = 900 ms.
      const a = await startTestApp({
        databaseUrl: database.url,
        env,
        admin: true,
        sessionBackend: 'redis',
        overrideProviders: [
          { token: REPLICA_TIMINGS, value: { heartbeatIntervalMs: 100, reconcileIntervalMs: 300 } },
        ],
      });
      apps.push(a);
      const slow = { heartbeatIntervalMs: 100, reconcileIntervalMs: 600_000 };
      const b = await startTestApp({
        databaseUrl: database.url,
        env,
        sessionBackend: 'redis',
        overrideProviders: [
          { token: REPLICA_TIMINGS, value: slow },
          { token: SETTINGS_ANNOUNCER, value: null },
        ],
      });
      apps.push(b);
      await createUser(a, 'bob');
      const status = (app: TestApp) => app.app.get(RuntimeStateService).sessionCacheStatus;
      const endedOnA = await login(a.url, 'bob', TEST_PASSWORD);

      const settings = a.app.get(SettingsService);
      await settings.update(
        { sessionCache: { backend: 'database' } },
        settings.current.version,
        'test',
      );
      await waitUntil('A on database alone', async () => !status(a).swapping, 10_000);
      expect(status(b).backend).toBe('redis');
      // (Nest's own logger lines land in the newest app's log: B's.)
      const lines = [...a.logs, ...b.logs].map((line) => String(line.msg));
      expect(lines.some((msg) => /did not switch within 900 ms/.test(msg))).toBe(true);

      // On A (database alone) the session ends; left-behind B still has it in redis.
      expect(await logout(a.url, endedOnA)).toBe(204);
      expect((await me(b.url, endedOnA)).status).toBe(200);

      // A replica starting now finds no handover in progress: it serves database alone.
      const c = await startTestApp({
        databaseUrl: database.url,
        env,
        overrideProviders: [{ token: REPLICA_TIMINGS, value: slow }],
      });
      apps.push(c);
      expect(status(c)).toMatchObject({ backend: 'database', swapping: false });
      expect((await me(c.url, endedOnA)).status).toBe(401);

      // B switches at last: it reads the new backend only, and its requests copy nothing back.
      await b.app.get(SettingsService).refresh();
      // At once, before its handover has looked at the registry: the new backend, not redis.
      expect((await me(b.url, endedOnA)).status).toBe(401);
      await waitUntil('B on database alone', async () => {
        const s = status(b);
        return s.backend === 'database' && !s.swapping;
      });
      for (const app of [a, b, c]) expect((await me(app.url, endedOnA)).status).toBe(401);
    });
  },
);
