import request from 'supertest';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import { waitUntil } from '../scale-out/replica-cluster.js';
import { describeWithRedisServer, freePort, OwnRedisServer } from '../support/redis-server.js';
import { POSTGRES_URL } from '../support/services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { meStatuses, meStatusesUntil, seedSessions } from './support/seeded-sessions.js';

// A swap whose target dies mid-copy (after the preflight passed): the change does not stand.
// The PATCH answers 503 swap_failed naming the cause, the settings are what they were, the old
// backend is served with every session, and /api/runtime agrees with the settings. From
// memory, requests that only read their session are answered all along: they read this
// process's own memory, not the new backend that died.

const SESSIONS = 8000;

async function expectNothingChanged(
  keel: TestApp,
  before: { version: number },
  sessions: Awaited<ReturnType<typeof seedSessions>>,
) {
  const settings = await keel.admin!.get('/api/settings').expect(200);
  expect(settings.body.version).toBe(before.version);
  expect(settings.body.values.sessionCache.backend).toBe('memory');
  const history = await keel.admin!.get('/api/settings/history').expect(200);
  expect(
    history.body.filter((entry: { version: number }) => entry.version > before.version),
  ).toEqual([]);
  const runtime = await keel.admin!.get('/api/runtime').expect(200);
  expect(runtime.body.sessionCache).toMatchObject({
    backend: 'memory',
    desired: 'memory',
    swapping: false,
  });
  expect(runtime.body.sessionCache.lastSwap.error).toEqual(expect.any(String));
  await keel.admin!.get('/health/ready').expect(200);
  expect(await keel.app.get(SessionCacheService).backend.length()).toBe(SESSIONS + 1);
  expect(await meStatuses(keel.url, sessions)).toEqual({ 200: SESSIONS });
}

/** Resolves once the swap in progress has copied something (its progress shows). */
async function copying(keel: TestApp): Promise<void> {
  await waitUntil(
    'the copy under way',
    async () => (keel.app.get(RuntimeStateService).sessionCacheStatus.progress?.migrated ?? 0) > 0,
    10_000,
    2,
  );
}

describeWithRedisServer('a swap whose Redis is killed mid-copy', () => {
  let keel: TestApp;
  let redis: OwnRedisServer;
  const redisDir = mkdtempSync(join(tmpdir(), 'keel-redis-'));

  beforeAll(async () => {
    redis = new OwnRedisServer(await freePort(), redisDir);
    await redis.start();
    keel = await startTestApp({
      admin: true,
      sessionBackend: 'memory',
      env: { REDIS_URL: redis.url },
    });
  });
  afterAll(async () => {
    await keel.close();
    await redis.kill();
    rmSync(redisDir, { recursive: true, force: true });
  });

  it(`${SESSIONS.toLocaleString('en')} sessions on memory, PATCH to redis, Redis killed: 503 swap_failed, nothing changed, no request failed`, async () => {
    const before = (await keel.admin!.get('/api/settings').expect(200)).body as {
      version: number;
      values: { session: { idleTimeoutSeconds: number } };
    };
    // Sessions no request has to touch: a touch is a write, which waits for both backends.
    const sessions = await seedSessions(keel, keel.admin!.userId, SESSIONS, {
      idleMs: before.values.session.idleTimeoutSeconds * 1000,
    });
    const patch = keel
      .admin!.patch('/api/settings', { values: { sessionCache: { backend: 'redis' } } })
      .set('If-Match', `"${before.version}"`)
      .then((response) => response);
    await copying(keel);
    // Redis hangs mid-copy (the copy's next batch waits on it), then dies. Requests that only
    // read their session go on being answered from memory: none waits on Redis, none fails.
    redis.pause();
    const concurrency = 16;
    const hung = sleep(1000);
    const during = meStatusesUntil(keel.url, sessions, hung, concurrency);
    await hung;
    await redis.kill();
    const answer = await patch;
    const statuses = await during;
    expect(Object.keys(statuses)).toEqual(['200']);
    // More than two rounds of requests: they were answered while Redis hung, not after.
    expect(statuses[200]).toBeGreaterThan(concurrency * 2);
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({
      code: 'swap_failed',
      message: expect.stringMatching(/redis/),
    });
    await expectNothingChanged(keel, before, sessions);
    expect(keel.app.get(SettingsService).current.version).toBe(before.version);
  });
});

(POSTGRES_URL ? describe : describe.skip)(
  'a swap whose database connections are killed mid-copy',
  () => {
    let keel: TestApp;
    beforeAll(async () => {
      keel = await startTestApp({ dialect: 'postgres', admin: true, sessionBackend: 'memory' });
    });
    afterAll(async () => {
      await keel.close();
    });

    it(`${SESSIONS.toLocaleString('en')} sessions on memory, PATCH to database, connections killed: 503, nothing changed`, async () => {
      const sessions = await seedSessions(keel, keel.admin!.userId, SESSIONS);
      const before = (await keel.admin!.get('/api/settings').expect(200)).body as {
        version: number;
      };
      const database = new URL(keel.databaseUrl!).pathname.slice(1);
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      try {
        const patch = keel
          .admin!.patch('/api/settings', { values: { sessionCache: { backend: 'database' } } })
          .set('If-Match', `"${before.version}"`)
          .then((response) => response);
        await copying(keel);
        let done = false;
        void patch.then(() => (done = true));
        // As a failover would: every connection Keel holds goes, again and again, until it gives up.
        const terminated = new Set<number>();
        while (!done) {
          const { rows } = await admin.query<{ pid: number }>(
            'select pid, pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
            [database],
          );
          for (const { pid } of rows) terminated.add(pid);
          await sleep(5);
        }
        // pg_terminate_backend only signals: the last rounds' backends may still be exiting, and
        // a query that meets one answers 503 database_unavailable, as right after a failover.
        // What this test checks is what the database holds once the failover is over.
        await waitUntil(
          'the terminated backends are gone',
          async () =>
            (
              await admin.query(
                'select 1 from pg_stat_activity where datname = $1 and pid = any($2)',
                [database, [...terminated]],
              )
            ).rowCount === 0,
          10_000,
          20,
        );
        const answer = await patch;
        // The copy fails (swap_failed), or, if it got through, storing the change does
        // (database_unavailable): either way nothing changed.
        expect(answer.status).toBe(503);
        expect(['swap_failed', 'database_unavailable']).toContain(answer.body.code);
      } finally {
        await admin.end();
      }
      await expectNothingChanged(keel, before, sessions);
    });
  },
);

describe('a swap that succeeds', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true, sessionBackend: 'memory' });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('has the settings, /api/runtime and readiness agree from its answer on, and stays put', async () => {
    const sessions = await seedSessions(keel, keel.admin!.userId, 500);
    const before = (await keel.admin!.get('/api/settings').expect(200)).body as { version: number };
    await keel
      .admin!.patch('/api/settings', { values: { sessionCache: { backend: 'database' } } })
      .set('If-Match', `"${before.version}"`)
      .expect(200);
    // For longer than the follower's period: it must see nothing to correct.
    for (let i = 0; i < 15; i++) {
      const runtime = await keel.admin!.get('/api/runtime').expect(200);
      expect(runtime.body.sessionCache).toMatchObject({ backend: 'database', desired: 'database' });
      await request(keel.url).get('/health/ready').expect(200);
      await sleep(100);
    }
    expect(keel.app.get(SessionCacheService).status()).toMatchObject({
      backend: 'database',
      desired: 'database',
      swapping: false,
    });
    expect(await meStatuses(keel.url, sessions)).toEqual({ 200: 500 });
  });
});
