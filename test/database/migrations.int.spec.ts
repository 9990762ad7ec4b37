import { Kysely, sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseTarget } from '../../src/config/app-config.js';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import { MIGRATIONS } from '../../src/database/migrations/index.js';
import { createPostgresDatabase, POSTGRES_URL } from '../support/services.js';

const ALL = Object.keys(MIGRATIONS);

type Prepare = () => Promise<{ target: DatabaseTarget; cleanup: () => Promise<void> }>;

const dialects: [string, Prepare][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keel-migrate-'));
      return {
        target: { dialect: 'sqlite', file: join(dir, 'keel.sqlite') },
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];
if (POSTGRES_URL) {
  dialects.push([
    'postgres',
    async () => {
      const database = await createPostgresDatabase();
      return { target: { dialect: 'postgres', url: database.url }, cleanup: () => database.drop() };
    },
  ]);
}

describe.each(dialects)('migrations on %s', (dialect, prepare) => {
  let target: DatabaseTarget;
  let cleanup: () => Promise<void>;
  const open: Kysely<unknown>[] = [];
  const connect = (): Kysely<unknown> => {
    const { db } = connectDatabase(target, () => undefined);
    const untyped = db as unknown as Kysely<unknown>;
    open.push(untyped);
    return untyped;
  };

  beforeEach(async () => {
    ({ target, cleanup } = await prepare());
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.destroy()));
    await cleanup();
  });

  it('applies every migration once and is idempotent', async () => {
    const db = connect();
    expect(await migrateToLatest(db)).toEqual(ALL);
    expect(await migrateToLatest(db)).toEqual([]);
    const tables = (await db.introspection.getTables()).map((table) => table.name);
    expect(tables).toEqual(expect.arrayContaining(['settings', 'settings_history']));
  });

  it('lets several replicas start at once: each migration is applied exactly once', async () => {
    const replicas = Array.from({ length: dialect === 'postgres' ? 5 : 1 }, connect);
    const applied = await Promise.all(replicas.map((db) => migrateToLatest(db)));
    expect(applied.flat().sort()).toEqual([...ALL].sort());
    const rows = await sql<{ n: number }>`select count(*) as n from keel_migration`.execute(
      replicas[0],
    );
    expect(Number(rows.rows[0].n)).toBe(ALL.length);
  });

  it('round-trips epoch-millisecond bigints as numbers', async () => {
    const db = connect();
    await migrateToLatest(db);
    const now = Date.now();
    await sql`insert into settings (id, version, overrides, updated_at) values (1, 1, '{}', ${now})`.execute(
      db,
    );
    const row = await sql<{ updated_at: unknown }>`select updated_at from settings`.execute(db);
    expect(row.rows[0].updated_at).toBe(now);
  });
});
