import { Injectable } from '@nestjs/common';
import type { Kysely, Selectable, Transaction, Updateable } from 'kysely';
import { DatabaseService } from '../database/database.service.js';
import type { DatabaseSchema, UsersTable } from '../database/schema.js';
import { normalizeUsername, type User } from './user.js';

export type UserChanges = Partial<Pick<User, 'email' | 'role' | 'disabled' | 'passwordHash'>>;

/** What a guarded change sees: the target user and every enabled admin, all locked. */
export interface LockedUsers {
  target: User | undefined;
  enabledAdminIds: string[];
}

/** The writes a guarded change may make, inside its transaction. */
export interface UsersWriter {
  update(id: string, changes: UserChanges, now: number): Promise<void>;
  delete(id: string): Promise<void>;
}

/** The users table. Rows become `User`s here; the hash never leaves through anything else. */
@Injectable()
export class UsersRepository {
  constructor(private readonly database: DatabaseService) {}

  /**
   * Inserts `user`; false when its username is taken (case-insensitively). The unique
   * constraint decides, so two concurrent creates of one name cannot both succeed.
   */
  async insert(user: User): Promise<boolean> {
    return insertUser(this.database.db, user);
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.database.db
      .selectFrom('users')
      .selectAll()
      .where('username_normalized', '=', normalizeUsername(username))
      .executeTakeFirst();
    return row && toUser(row);
  }

  async list(): Promise<User[]> {
    const rows = await this.database.db
      .selectFrom('users')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toUser);
  }

  async countEnabledAdmins(): Promise<number> {
    const row = await this.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('admins'))
      .where('role', '=', 'admin')
      .where('disabled', '=', 0)
      .executeTakeFirstOrThrow();
    return Number(row.admins);
  }

  /** Replaces the hash only if it is still `expected`, so a rehash never undoes a password change. */
  async replacePasswordHash(id: string, expected: string, next: string): Promise<boolean> {
    const result = await this.database.db
      .updateTable('users')
      .set({ password_hash: next })
      .where('id', '=', id)
      .where('password_hash', '=', expected)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Runs `work` in one transaction that first locks user `id` and every enabled admin, so a
   * decision about "is this the last admin?" still holds when the write commits.
   *
   * PostgreSQL: `select ... for update` locks the rows in id order (one statement, one order
   * for everybody, so two changes cannot deadlock). A change that waited for a lock re-reads
   * the row and drops it if it is no longer an enabled admin, so two concurrent demotions of
   * the last two admins see one admin each time: the second is refused. `for update` does not
   * combine with an aggregate, hence the ids are counted here rather than with count(*).
   * SQLite: Kysely's SqliteDialect has one connection behind a mutex held from `begin` to
   * `commit`, so transactions of this process run one after another. (SQLite is the
   * single-process deployment; replicas share PostgreSQL.)
   */
  async withAdminsLocked<T>(
    id: string,
    work: (locked: LockedUsers, writer: UsersWriter) => Promise<T>,
  ): Promise<T> {
    const lockRows = this.database.dialect === 'postgres';
    return this.database.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('users')
        .selectAll()
        .where((eb) =>
          eb.or([eb('id', '=', id), eb.and([eb('role', '=', 'admin'), eb('disabled', '=', 0)])]),
        )
        .orderBy('id')
        .$if(lockRows, (qb) => qb.forUpdate())
        .execute();
      const users = rows.map(toUser);
      const locked: LockedUsers = {
        target: users.find((user) => user.id === id),
        enabledAdminIds: users
          .filter((user) => user.role === 'admin' && !user.disabled)
          .map((user) => user.id),
      };
      return work(locked, writerFor(trx));
    });
  }
}

function writerFor(trx: Transaction<DatabaseSchema>): UsersWriter {
  return {
    async update(id, changes, now) {
      const values: Updateable<UsersTable> = { updated_at: now };
      if (changes.email !== undefined) values.email = changes.email;
      if (changes.role !== undefined) values.role = changes.role;
      if (changes.disabled !== undefined) values.disabled = changes.disabled ? 1 : 0;
      if (changes.passwordHash !== undefined) values.password_hash = changes.passwordHash;
      await trx.updateTable('users').set(values).where('id', '=', id).execute();
    },
    async delete(id) {
      await trx.deleteFrom('users').where('id', '=', id).execute();
    },
  };
}

/**
 * Inserts `user` through `db` (a transaction's, when the insert must commit with other writes:
 * setup creates the first admin this way). False when the username is taken in any letter case.
 */
export async function insertUser(db: Kysely<DatabaseSchema>, user: User): Promise<boolean> {
  const result = await db
    .insertInto('users')
    .values({
      id: user.id,
      username: user.username,
      username_normalized: normalizeUsername(user.username),
      email: user.email,
      role: user.role,
      password_hash: user.passwordHash,
      disabled: user.disabled ? 1 : 0,
      created_at: user.createdAt,
      updated_at: user.updatedAt,
    })
    .onConflict((oc) => oc.column('username_normalized').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    disabled: row.disabled === 1,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
