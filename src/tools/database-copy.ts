import { type Kysely, sql } from 'kysely';
import { isAbsolute, resolve } from 'node:path';
import type { DatabaseTarget } from '../config/app-config.js';
import { databaseNowMs } from '../database/clock.js';
import { connectDatabase } from '../database/connect.js';
import { migrateToLatest } from '../database/migrate.js';
import type { DatabaseSchema } from '../database/schema.js';
import { LIVE_HEARTBEATS, DEFAULT_REPLICA_TIMINGS } from '../replicas/replica-timings.js';

/** Rows read and written at once. */
const BATCH = 500;

/**
 * What the copy does with each of Keel's tables. A table missing here stops the copy (see
 * `checkTables`), so a migration that adds one cannot be silently left behind.
 */
const TABLES = {
  settings: 'copied',
  settings_history: 'copied',
  users: 'copied',
  setup_state: 'copied',
  sessions: 'copied with --sessions',
  instances: 'not copied: it describes running processes',
  keel_migration: 'not copied: the target runs its own migrations',
  keel_migration_lock: 'not copied: the target runs its own migrations',
} as const;

export interface CopyOptions {
  /** `sqlite:<file>`, a file path, or `postgres://...`. */
  from: string;
  to: string;
  /** Copy live sessions too (the `database` session backend's rows); otherwise users sign in again. */
  sessions?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface CopyReport {
  settingsVersion: number;
  history: number;
  users: number;
  setupCompletedAt: string | null;
  sessions: number | null;
}

/** A refusal the operator can act on (printed without a stack trace). */
export class DatabaseCopyError extends Error {
  override readonly name = 'DatabaseCopyError';
}

/** `sqlite:<file>` / a plain path, or a `postgres://` / `postgresql://` URL. */
export function parseDatabaseLocation(location: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(location)) return { dialect: 'postgres', url: location };
  const path = location.startsWith('sqlite:')
    ? location.slice('sqlite:'.length).replace(/^\/\//, '')
    : location;
  if (!path) throw new DatabaseCopyError(`"${location}" names no database`);
  return { dialect: 'sqlite', file: isAbsolute(path) ? path : resolve(path) };
}

/**
 * Copies one Keel database into another, empty one (typically SQLite to PostgreSQL, when a
 * single process grows into several replicas): the runtime settings and their history, the
 * users (password hashes as they are), first-run setup's state, and optionally the sessions.
 * Both are migrated to this version's schema first. Keel must not be running on the source
 * (its registry says so) and the target must hold no users, settings history or completed
 * setup. The writes happen in one transaction on the target: all or nothing.
 */
export async function copyDatabase(options: CopyOptions): Promise<CopyReport> {
  const log = options.log ?? (() => undefined);
  const sourceTarget = parseDatabaseLocation(options.from);
  const destinationTarget = parseDatabaseLocation(options.to);
  if (JSON.stringify(sourceTarget) === JSON.stringify(destinationTarget)) {
    throw new DatabaseCopyError('--from and --to name the same database');
  }
  const source = connectDatabase(sourceTarget, () => undefined);
  const target = connectDatabase(destinationTarget, () => undefined);
  try {
    for (const [name, { db }] of [
      ['source', source],
      ['target', target],
    ] as const) {
      const applied = await migrateToLatest(db as unknown as Kysely<unknown>);
      if (applied.length > 0) log(`Migrated the ${name} database: ${applied.join(', ')}`);
    }
    await checkTables(source.db);
    await checkNotRunning(source.db, source.dialect);
    await checkEmpty(target.db);
    return await target.db.transaction().execute(async (trx) => {
      const report = await copyAll(source.db, trx, options.sessions ?? false);
      log(
        `Copied settings version ${report.settingsVersion}, ${report.history} history entries, ${report.users} users, setup ${
          report.setupCompletedAt ? `completed ${report.setupCompletedAt}` : 'not completed'
        }, ${report.sessions === null ? 'no sessions (pass --sessions to copy them)' : `${report.sessions} sessions`}`,
      );
      return report;
    });
  } finally {
    await Promise.all([source.db.destroy(), target.db.destroy()]);
  }
}

async function copyAll(
  from: Kysely<DatabaseSchema>,
  to: Kysely<DatabaseSchema>,
  withSessions: boolean,
): Promise<CopyReport> {
  const settings = await copySingleRow(from, to, 'settings');

  const history = await copyTable(from, to, 'settings_history', 'version');
  const users = await copyTable(from, to, 'users', 'id');

  const setup = await copySingleRow(from, to, 'setup_state');

  let sessions: number | null = null;
  if (withSessions) {
    const now = Date.now();
    sessions = 0;
    await to.deleteFrom('sessions').execute();
    let after = '';
    for (;;) {
      const rows = await from
        .selectFrom('sessions')
        .selectAll()
        .where('sid', '>', after)
        .where('expires_at', '>', now)
        .orderBy('sid')
        .limit(BATCH)
        .execute();
      if (rows.length === 0) break;
      await to.insertInto('sessions').values(rows).execute();
      sessions += rows.length;
      after = rows.at(-1)!.sid;
    }
  }
  return {
    settingsVersion: settings?.version ?? 0,
    history,
    users,
    setupCompletedAt:
      setup?.completed_at == null ? null : new Date(Number(setup.completed_at)).toISOString(),
    sessions,
  };
}

/** Copies every row of `table`, `BATCH` at a time in `key` order. */
async function copyTable<T extends 'settings_history' | 'users'>(
  from: Kysely<DatabaseSchema>,
  to: Kysely<DatabaseSchema>,
  table: T,
  key: T extends 'users' ? 'id' : 'version',
): Promise<number> {
  // Kysely's types cannot follow a table chosen at run time; the rows go across unchanged.
  const source = from as unknown as Kysely<Record<string, Record<string, unknown>>>;
  const target = to as unknown as Kysely<Record<string, Record<string, unknown>>>;
  let copied = 0;
  let offset = 0;
  for (;;) {
    const rows = await source
      .selectFrom(table)
      .selectAll()
      .orderBy(key)
      .limit(BATCH)
      .offset(offset)
      .execute();
    if (rows.length === 0) break;
    await target.insertInto(table).values(rows).execute();
    copied += rows.length;
    offset += rows.length;
  }
  return copied;
}

async function checkTables(db: Kysely<DatabaseSchema>): Promise<void> {
  const tables = (await db.introspection.getTables({ withInternalKyselyTables: true })).map(
    (table) => table.name,
  );
  const unknown = tables.filter((name) => !(name in TABLES) && !name.startsWith('sqlite_'));
  if (unknown.length > 0) {
    throw new DatabaseCopyError(
      `The source has tables this tool does not know how to copy: ${unknown.join(', ')}. Use the migrate-database of the Keel version that created them.`,
    );
  }
}

async function checkNotRunning(
  db: Kysely<DatabaseSchema>,
  dialect: 'sqlite' | 'postgres',
): Promise<void> {
  const window = LIVE_HEARTBEATS * DEFAULT_REPLICA_TIMINGS.heartbeatIntervalMs;
  const running = await db
    .selectFrom('instances')
    .select(['host', 'pid'])
    .where('heartbeat_at', '>', sql<number>`${databaseNowMs(dialect)} - ${window}`)
    .execute();
  if (running.length > 0) {
    throw new DatabaseCopyError(
      `Keel is running on the source (${running
        .map((row) => `${row.host} pid ${row.pid}`)
        .join(', ')}): stop it first, so nothing changes while it is copied`,
    );
  }
}

async function checkEmpty(db: Kysely<DatabaseSchema>): Promise<void> {
  const count = async (table: 'users' | 'settings_history') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const setup = await db
    .selectFrom('setup_state')
    .select('completed_at')
    .where('id', '=', 1)
    .executeTakeFirst();
  const settings = await db
    .selectFrom('settings')
    .select('version')
    .where('id', '=', 1)
    .executeTakeFirst();
  const found = [
    (await count('users')) > 0 && 'users',
    (await count('settings_history')) > 0 && 'settings history',
    (settings?.version ?? 0) > 0 && 'changed settings',
    setup?.completed_at != null && 'a completed setup',
  ].filter(Boolean);
  if (found.length > 0) {
    throw new DatabaseCopyError(
      `The target database is not empty (it has ${found.join(', ')}): copy into a new, empty database`,
    );
  }
}

/** Copies a table that holds one row (`id` 1): the settings, first-run setup's state. */
async function copySingleRow<T extends 'settings' | 'setup_state'>(
  from: Kysely<DatabaseSchema>,
  to: Kysely<DatabaseSchema>,
  table: T,
) {
  const row = await from
    .selectFrom(table as 'settings')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirst();
  if (row) {
    await to.deleteFrom(table as 'settings').execute();
    await to
      .insertInto(table as 'settings')
      .values(row)
      .execute();
  }
  return row as DatabaseSchema[T] | undefined;
}
