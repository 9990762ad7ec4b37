import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * PostgreSQL only: every delete of a `sessions` row, and every update that changes its data or
 * user or brings its expiry closer, notifies channel `keel_sessions` with its id, in the same
 * transaction as the write. Replicas keep a read cache in front of the
 * database backend and drop a session from it on that notice (SessionReadCache). A trigger
 * rather than a NOTIFY the backend sends: no SQL write skips it (an operator's hand-written
 * DELETE, `keel` tools, a future code path), and a notice is sent if and only if the write
 * commits (a TRUNCATE notifies once, with no id: every session). What does bypass it:
 * `session_replication_role = replica` and disabled triggers. SQLite serves one process, whose cache sees its own writes: nothing to notify.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    create function keel_session_changed() returns trigger language plpgsql as $$
    begin
      -- TRUNCATE names no row: an empty notice means "every session".
      perform pg_notify('keel_sessions', case when tg_op = 'TRUNCATE' then '' else old.sid end);
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger sessions_deleted after delete on sessions
    for each row execute function keel_session_changed()`.execute(db);
  // A touch only moves the expiry later (and last_seen_at): a cached copy then ends early and
  // is read again, never late, so touches (the most frequent write) send nothing.
  await sql`
    create trigger sessions_changed after update on sessions
    for each row when (
      old.data is distinct from new.data
      or old.user_id is distinct from new.user_id
      or new.expires_at < old.expires_at
    ) execute function keel_session_changed()`.execute(db);
  await sql`
    create trigger sessions_truncated after truncate on sessions
    for each statement execute function keel_session_changed()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const trigger of ['sessions_deleted', 'sessions_changed', 'sessions_truncated']) {
    await sql`drop trigger if exists ${sql.id(trigger)} on sessions`.execute(db);
  }
  await sql`drop function if exists keel_session_changed()`.execute(db);
}
