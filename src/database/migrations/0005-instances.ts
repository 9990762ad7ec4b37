import type { Kysely } from 'kysely';

/**
 * The instance registry: one row per running Keel process, upserted by its heartbeat every few
 * seconds and deleted when it shuts down cleanly. Rows whose heartbeat stopped (a killed pod)
 * are deleted by the other replicas' heartbeats; `heartbeat_at` is indexed for that and for
 * the "live replicas" query. Nothing here outlives the processes it describes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('instances')
    .addColumn('instance_id', 'text', (col) => col.primaryKey())
    .addColumn('host', 'text', (col) => col.notNull())
    .addColumn('pid', 'integer', (col) => col.notNull())
    .addColumn('started_at', 'bigint', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('phase', 'text', (col) => col.notNull())
    .addColumn('session_backend', 'text', (col) => col.notNull())
    .addColumn('session_cache_version', 'integer', (col) => col.notNull())
    .addColumn('heartbeat_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('instances_heartbeat_at')
    .on('instances')
    .column('heartbeat_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('instances').execute();
}
