import { type Kysely, Migrator, sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import { MIGRATIONS } from '../../src/database/migrations/index.js';
import type { DatabaseSchema } from '../../src/database/schema.js';
import { createPostgresDatabase, POSTGRES_URL } from '../support/services.js';

const dialects: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/** Migrates a fresh database up to 0003 (users, no setup yet), runs `seed`, then to the latest. */
async function upgrade(
  dialect: 'sqlite' | 'postgres',
  seed: (db: Kysely<DatabaseSchema>) => Promise<void>,
): Promise<{ completed_at: number | null; token_hash: string | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-setup-migration-'));
  const database = dialect === 'postgres' ? await createPostgresDatabase() : undefined;
  const { db } = connectDatabase(
    database
      ? { dialect: 'postgres', url: database.url }
      : { dialect: 'sqlite', file: join(dir, 'keel.sqlite') },
    () => undefined,
  );
  try {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => MIGRATIONS },
      migrationTableName: 'keel_migration',
      migrationLockTableName: 'keel_migration_lock',
    });
    expect((await migrator.migrateTo('0003-users')).error).toBeUndefined();
    await seed(db);
    await migrateToLatest(db as unknown as Kysely<unknown>);
    const rows = await sql<{
      completed_at: number | null;
      token_hash: string | null;
    }>`select completed_at, token_hash from setup_state`.execute(db);
    expect(rows.rows).toHaveLength(1);
    return rows.rows[0];
  } finally {
    await db.destroy();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(dialects)('migration 0004-setup on %s', (dialect) => {
  it('a fresh install needs setup', async () => {
    expect(await upgrade(dialect, async () => undefined)).toEqual({
      completed_at: null,
      token_hash: null,
    });
  });

  it('an install whose admin predates setup counts as set up', async () => {
    const before = Date.now();
    const state = await upgrade(dialect, async (db) => {
      await db
        .insertInto('users')
        .values({
          id: '00000000-0000-4000-8000-000000000001',
          username: 'Old',
          username_normalized: 'old',
          email: null,
          role: 'admin',
          password_hash: 'x',
          disabled: 0,
          created_at: 1,
          updated_at: 1,
        })
        .execute();
    });
    expect(Number(state.completed_at)).toBeGreaterThanOrEqual(before);
  });
});
