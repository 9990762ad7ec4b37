import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { type CookieSession, login, me } from '../support/http-client.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// docs/operations.md, "From SQLite to PostgreSQL": the documented command, as an operator runs
// it (the built dist/tools/migrate-database.js), from a SQLite install to a fresh PostgreSQL
// database that Keel then starts on with everything in place.

const TOOL = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'migrate-database.js');

function migrate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [TOOL, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

(POSTGRES_URL ? describe : describe.skip)('migrate-database: SQLite to PostgreSQL', () => {
  let dataDir: string;
  let target: TemporaryDatabase;
  let onPostgres: TestApp | undefined;
  let sqliteFile: string;
  let alice: CookieSession;
  let settingsBefore: { version: number; values: Record<string, unknown> };
  let historyBefore: unknown[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keel-migrate-tool-'));
    sqliteFile = join(dataDir, 'keel.sqlite');
    const onSqlite = await startTestApp({ dataDir, admin: true });
    await createUser(onSqlite, 'alice');
    const admin = onSqlite.admin!;
    for (const values of [
      { siteName: 'Moved Keel' },
      { session: { idleTimeoutSeconds: 900 } },
      { sessionCache: { backend: 'database' } },
    ]) {
      const current = await admin.get('/api/settings').expect(200);
      await admin
        .patch('/api/settings', { values })
        .set('If-Match', current.headers.etag)
        .expect(200);
    }
    alice = await login(onSqlite.url, 'alice', TEST_PASSWORD);
    settingsBefore = (await admin.get('/api/settings').expect(200)).body;
    historyBefore = (await admin.get('/api/settings/history').expect(200)).body;
    await onSqlite.close({ keepData: true });
    target = await createPostgresDatabase();
  });

  afterAll(async () => {
    await onPostgres?.close({ keepData: true });
    await target?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('copies settings, history, users, setup and sessions; Keel then runs on PostgreSQL with all of it', async () => {
    const copied = migrate('--from', `sqlite:${sqliteFile}`, '--to', target.url, '--sessions');
    expect([copied.status, copied.stderr]).toEqual([0, '']);
    expect(copied.stdout).toMatch(
      /Copied settings version 3, 3 history entries, 2 users, setup completed .*, \d+ sessions/,
    );

    // Same DATA_DIR: the generated session secret is there, so existing cookies still verify.
    onPostgres = await startTestApp({ dataDir, databaseUrl: target.url });
    const admin = await signIn(onPostgres, 'admin');
    expect((await admin.get('/api/settings').expect(200)).body).toEqual(settingsBefore);
    expect((await admin.get('/api/settings/history').expect(200)).body).toEqual(historyBefore);
    const users = (await admin.get('/api/users').expect(200)).body as { username: string }[];
    expect(users.map((user) => user.username).sort()).toEqual(['admin', 'alice']);
    expect(await me(onPostgres.url, alice)).toEqual({ status: 200, userId: alice.userId });
    const setup = await request(onPostgres.url).get('/api/setup').expect(200);
    expect(setup.body).toMatchObject({ required: false });
  });

  it('refuses a target that is not empty, and a source Keel is running on', () => {
    const again = migrate('--from', `sqlite:${sqliteFile}`, '--to', target.url);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/target database is not empty.*users/);

    const running = migrate('--from', target.url, '--to', `sqlite:${join(dataDir, 'copy.sqlite')}`);
    expect(running.status).toBe(1);
    expect(running.stderr).toMatch(/Keel is running on the source .*stop it first/);

    const usage = migrate('--from', `sqlite:${sqliteFile}`);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--from and --to are required/);
  });
});
