import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { User } from '../users/user.js';
import { insertUser } from '../users/users.repository.js';

export interface SetupState {
  /** Epoch ms when setup completed; null while it is required. */
  completedAt: number | null;
  /** SHA-256 of the setup token while setup is required (src/setup/setup-token.ts). */
  tokenHash: string | null;
  tokenCreatedAt: number | null;
}

/** How an attempt to complete setup ended. Only `completed` wrote anything. */
export type CompletionOutcome =
  'completed' | 'already-completed' | 'token-invalid' | 'username-taken';

/** Thrown inside the completion transaction to roll it back. */
class UsernameTaken extends Error {}

/** The `setup_state` row (one, id 1, made by migration 0004) and the first admin's insert. */
@Injectable()
export class SetupRepository {
  constructor(private readonly database: DatabaseService) {}

  async load(): Promise<SetupState> {
    const row = await this.database.db
      .selectFrom('setup_state')
      .select(['completed_at', 'token_hash', 'token_created_at'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return {
      completedAt: row.completed_at,
      tokenHash: row.token_hash,
      tokenCreatedAt: row.token_created_at,
    };
  }

  /**
   * Stores `tokenHash` unless a token is stored already or setup is complete; true when this
   * call stored it. One conditional UPDATE, so of replicas starting together exactly one mints
   * the token and the others find it.
   */
  async storeTokenHashIfAbsent(tokenHash: string, now: number): Promise<boolean> {
    const result = await this.database.db
      .updateTable('setup_state')
      .set({ token_hash: tokenHash, token_created_at: now })
      .where('id', '=', 1)
      .where('completed_at', 'is', null)
      .where('token_hash', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Stores `tokenHash` in place of any stored token (SETUP_TOKEN), while setup is required. */
  async replaceTokenHash(tokenHash: string, now: number): Promise<void> {
    await this.database.db
      .updateTable('setup_state')
      .set({ token_hash: tokenHash, token_created_at: now })
      .where('id', '=', 1)
      .where('completed_at', 'is', null)
      .execute();
  }

  /**
   * Marks setup complete and inserts `admin`, in one transaction, if setup is still required
   * (and, with `tokenHash`, if that is still the stored token). The claim is a conditional
   * UPDATE of the one row, not a check-then-insert: on PostgreSQL concurrent claims queue on
   * its row lock and, once the winner commits, re-check `completed_at` and match nothing; on
   * SQLite, Kysely runs transactions one at a time on its one connection. So of any number of
   * concurrent attempts exactly one returns `completed`. The token dies in the same write.
   */
  async completeWithAdmin(
    admin: User,
    now: number,
    tokenHash?: string,
  ): Promise<CompletionOutcome> {
    try {
      return await this.database.db.transaction().execute(async (trx) => {
        const claimed = await trx
          .updateTable('setup_state')
          .set({
            completed_at: now,
            admin_user_id: admin.id,
            token_hash: null,
            token_created_at: null,
          })
          .where('id', '=', 1)
          .where('completed_at', 'is', null)
          // The caller compared the token in constant time; this keeps the comparison true up
          // to the commit (a replica starting with another SETUP_TOKEN replaces it).
          .$if(tokenHash !== undefined, (qb) => qb.where('token_hash', '=', tokenHash!))
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) {
          const row = await trx
            .selectFrom('setup_state')
            .select('completed_at')
            .where('id', '=', 1)
            .executeTakeFirstOrThrow();
          return row.completed_at === null ? 'token-invalid' : 'already-completed';
        }
        // The first admin is always an enabled admin, whatever the caller's object says.
        if (!(await insertUser(trx, { ...admin, role: 'admin', disabled: false }))) {
          throw new UsernameTaken();
        }
        return 'completed';
      });
    } catch (error) {
      if (error instanceof UsernameTaken) return 'username-taken';
      throw error;
    }
  }
}
