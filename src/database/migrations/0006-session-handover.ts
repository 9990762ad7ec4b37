import type { Kysely } from 'kysely';

/**
 * Session integrity (ending is final, a handover nobody can lose):
 * - `sessions.last_seen_at`: when the session was last used, written like the expiry (a touch),
 *   so reading a session never rewrites its data;
 * - `instances.session_previous_backend` / `session_reads_previous`: which old backend a
 *   replica still writes during a cross-replica handover, and whether it still reads it, so a
 *   replica that starts mid-handover joins it and nobody reads the new backend alone too soon.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('sessions')
    .addColumn('last_seen_at', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('instances').addColumn('session_previous_backend', 'text').execute();
  await db.schema
    .alterTable('instances')
    .addColumn('session_reads_previous', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('session_reads_previous').execute();
  await db.schema.alterTable('instances').dropColumn('session_previous_backend').execute();
  await db.schema.alterTable('sessions').dropColumn('last_seen_at').execute();
}
