import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * PostgreSQL only: every update or delete of a `sessions` row notifies channel `keel_sessions`
 * with its id, in the same transaction as the write. Replicas keep a read cache in front of the
 * database backend and drop a session from it on that notice (SessionReadCache). A trigger
 * rather than a NOTIFY the backend sends: no write can skip it (an operator's hand-written
 * DELETE, `keel` tools, a future code path), and a notice is sent if and only if the write
 * commits. SQLite serves one process, whose cache sees its own writes: nothing to notify.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    create function keel_session_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('keel_sessions', old.sid);
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger sessions_changed after update or delete on sessions
    for each row execute function keel_session_changed()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop trigger if exists sessions_changed on sessions`.execute(db);
  await sql`drop function if exists keel_session_changed()`.execute(db);
}
