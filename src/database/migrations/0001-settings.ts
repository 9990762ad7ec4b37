import { type Kysely, sql } from 'kysely';

/** Runtime settings: one row holding the current overrides and version, and the change history. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('id', 'integer', (col) => col.primaryKey().check(sql`id = 1`))
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('overrides', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_by', 'text')
    .execute();

  await db.schema
    .createTable('settings_history')
    .addColumn('version', 'integer', (col) => col.primaryKey())
    .addColumn('changed_at', 'bigint', (col) => col.notNull())
    .addColumn('changed_by', 'text')
    .addColumn('changes', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('settings_history').execute();
  await db.schema.dropTable('settings').execute();
}
