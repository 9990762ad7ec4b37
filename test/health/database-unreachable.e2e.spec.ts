import pg from 'pg';
import request from 'supertest';
import { describeWithPostgres, POSTGRES_URL } from '../support/services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The database goes away under a running instance: readiness must say so by name (the load
// balancer stops sending traffic), liveness must not (restarting pods cures no outage).
// Real PostgreSQL: the app's database stops accepting connections and its sessions are killed.

describeWithPostgres('database unreachable', () => {
  let keel: TestApp;
  let admin: pg.Client;
  let databaseName: string;

  beforeAll(async () => {
    // Sessions in memory: only the database is down, so readiness names it alone.
    keel = await startTestApp({ dialect: 'postgres', sessionBackend: 'memory' });
    databaseName = new URL(keel.databaseUrl!).pathname.slice(1);
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS true`);
    await admin.end();
    await keel.close();
  });

  it('fails readiness naming the database while liveness stays 200, and recovers', async () => {
    await request(keel.url).get('/health/ready').expect(200);

    await admin.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS false`);
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [databaseName],
    );

    const ready = await request(keel.url).get('/health/ready').expect(503);
    expect(ready.body.status).toBe('error');
    expect(Object.keys(ready.body.error)).toEqual(['database']);
    expect(ready.body.error.database).toEqual({
      status: 'down',
      // Whichever the probe meets first: the refusal of a new connection, PostgreSQL's notice
      // to a terminated session, or the reset of a socket it killed before the notice arrived.
      message: expect.stringMatching(/not currently accepting connections|terminat|ECONNRESET/),
      responseTime: expect.any(Number),
    });
    // The memory session cache still answers: only the database fails.
    expect(ready.body.info).toEqual({
      phase: { status: 'up', phase: 'ready' },
      sessionCache: { status: 'up', responseTime: expect.any(Number) },
      sessionCacheFollowsSettings: { status: 'up', responseTime: expect.any(Number) },
      sessionCacheShared: { status: 'up', responseTime: expect.any(Number) },
    });

    const live = await request(keel.url).get('/health/live').expect(200);
    expect(live.body.status).toBe('ok');
    await request(keel.url).get('/health/startup').expect(200);

    await admin.query(`ALTER DATABASE ${databaseName} ALLOW_CONNECTIONS true`);
    await request(keel.url).get('/health/ready').expect(200);
  });
});
