import type { Kysely } from 'kysely';

/**
 * `instances.report`: what a replica shows of itself beyond what the handover reads (the
 * settings version it serves, its session-cache status with a swap's progress, its supervised
 * tasks), as JSON, so any replica's `/api/runtime` and operator console can show every
 * replica's. JSON rather than columns: only people read it, never a query, and its shape grows
 * with the console. Rows of replicas that run an older version keep `{}`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('instances')
    .addColumn('report', 'text', (col) => col.notNull().defaultTo('{}'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('report').execute();
}
