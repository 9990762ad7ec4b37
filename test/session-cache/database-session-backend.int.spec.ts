import type { Kysely } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import type { DatabaseSchema } from '../../src/database/schema.js';
import { DatabaseSessionBackend } from '../../src/session-cache/backends/database-session.backend.js';
import { SessionStoreUnavailableError } from '../../src/session-cache/session-backend.js';
import { freePort } from '../support/redis-server.js';

const HOUR = 3_600_000;

describe('database session backend', () => {
  let dir: string;
  const open: Kysely<DatabaseSchema>[] = [];
  const sqlite = (file = join(dir, 'keel.sqlite')) => {
    const { db } = connectDatabase({ dialect: 'sqlite', file }, () => undefined);
    open.push(db);
    return db;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-db-sessions-'));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.destroy()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("the sweeper's deleteExpired removes expired rows only", async () => {
    const db = sqlite();
    await migrateToLatest(db as unknown as Kysely<unknown>);
    const backend = new DatabaseSessionBackend(db);
    const now = Date.now();
    await db
      .insertInto('sessions')
      .values([
        {
          sid: 'expired',
          data: '{}',
          user_id: 'u1',
          expires_at: now - 1000,
          updated_at: now,
          last_seen_at: now,
        },
        {
          sid: 'just-expired',
          data: '{}',
          user_id: null,
          expires_at: now,
          updated_at: now,
          last_seen_at: now,
        },
        {
          sid: 'live',
          data: '{}',
          user_id: 'u1',
          expires_at: now + HOUR,
          updated_at: now,
          last_seen_at: now,
        },
      ])
      .execute();

    expect(await backend.deleteExpired(now)).toBe(2);
    const left = await db.selectFrom('sessions').select('sid').execute();
    expect(left.map((row) => row.sid)).toEqual(['live']);
    expect(await backend.deleteExpired(now)).toBe(0);
  });

  it('reports a PostgreSQL that cannot be reached as the session store being unavailable, fast', async () => {
    const port = await freePort();
    const { db } = connectDatabase(
      { dialect: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/keel` },
      () => undefined,
    );
    open.push(db);
    const backend = new DatabaseSessionBackend(db);
    const started = Date.now();
    await expect(backend.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    await expect(backend.ping()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not disguise a broken query as an unreachable store', async () => {
    // No migrations: the table is missing. That is a bug to see as a 500, not a 503.
    const backend = new DatabaseSessionBackend(sqlite());
    const failure: unknown = await backend.get('s1').then(
      () => undefined,
      (error: unknown) => error,
    );
    // Matched by shape: the driver's error may come from another realm under Jest's VM.
    expect((failure as { message?: string } | undefined)?.message).toMatch(/no such table/);
    expect(failure).not.toBeInstanceOf(SessionStoreUnavailableError);
  });
});
