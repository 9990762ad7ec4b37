import { type Kysely, sql } from 'kysely';

/**
 * First-run setup state: one row (id 1). `completed_at` is set in the same transaction that
 * creates the first admin, so every replica agrees on whether setup is done. While it is not,
 * `token_hash` holds the SHA-256 of the setup token (never the token itself).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('setup_state')
    .addColumn('id', 'integer', (col) => col.primaryKey().check(sql`id = 1`))
    .addColumn('token_hash', 'text')
    .addColumn('token_created_at', 'bigint')
    .addColumn('completed_at', 'bigint')
    // Informational (who setup created); that user may be deleted later, so no foreign key.
    .addColumn('admin_user_id', 'text')
    .execute();

  // An install whose admins predate this migration is already set up: don't lock it out.
  const { rows } = await sql<{
    admins: number | string;
  }>`select count(*) as admins from users where role = 'admin'`.execute(db);
  const completedAt = Number(rows[0]?.admins ?? 0) > 0 ? Date.now() : null;
  await sql`insert into setup_state (id, completed_at) values (1, ${completedAt})`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('setup_state').execute();
}
