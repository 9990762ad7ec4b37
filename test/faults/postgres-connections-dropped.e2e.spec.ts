import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, me, type CookieSession } from '../support/http-client.js';
import { POSTGRES_URL } from '../support/services.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * PostgreSQL drops every connection Keel holds (pg_terminate_backend, as a failover or an
 * operator would). Requests recover through the pool, without a restart; none is a 500.
 */
(POSTGRES_URL ? describe : describe.skip)('PostgreSQL connections dropped', () => {
  let keel: TestApp;
  beforeAll(async () => {
    // Sessions in PostgreSQL too: the dropped connections are the session store's as well.
    keel = await startTestApp({ dialect: 'postgres', admin: true, sessionBackend: 'database' });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('recovers through the pool: no 500, and every session works again at once', async () => {
    await createUser(keel, 'steady');
    const sessions: CookieSession[] = [];
    for (let i = 0; i < 10; i++) sessions.push(await login(keel.url, 'steady', TEST_PASSWORD));
    // Warm the pool so there are idle connections to kill.
    await Promise.all(sessions.map((session) => me(keel.url, session)));

    const database = new URL(keel.databaseUrl!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const statuses: number[] = [];
    let running = true;
    const client = async (offset: number) => {
      for (let i = offset; running; i += 4) {
        statuses.push((await me(keel.url, sessions[i % sessions.length])).status);
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, (_, i) => client(i)));
    try {
      for (let round = 0; round < 3; round++) {
        await sleep(200);
        const killed = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [database],
        );
        expect(killed.rowCount).toBeGreaterThan(0);
      }
      await sleep(300);
    } finally {
      running = false;
      await load;
      await admin.end();
    }
    expect(statuses.filter((status) => status >= 500 && status !== 503)).toEqual([]);
    for (const session of sessions) {
      expect(await me(keel.url, session)).toEqual({ status: 200, userId: session.userId });
    }
    const ready = await fetch(`${keel.url}/health/ready`);
    expect(ready.status).toBe(200);
    process.stdout.write(
      `postgres drop: ${statuses.length} requests, ${statuses.filter((s) => s === 503).length} answered 503 while connections were re-made\n`,
    );
  });
});
