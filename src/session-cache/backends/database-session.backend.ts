import { type Kysely, sql } from 'kysely';
import type { DatabaseSchema } from '../../database/schema.js';
import { DatabaseUnavailableError } from '../../database/database-unavailable.js';
import {
  type SessionBackend,
  SessionStoreUnavailableError,
  type StoredSession,
  withTimeout,
} from '../session-backend.js';

export interface DatabaseSessionBackendOptions {
  /** Rows read per query by `entries()`. */
  pageSize?: number;
  /** How long `ping()` waits for an answer. */
  pingTimeoutMs?: number;
}

type SessionRow = Pick<
  DatabaseSchema['sessions'],
  'sid' | 'data' | 'user_id' | 'expires_at' | 'last_seen_at'
>;
const SESSION_COLUMNS = ['sid', 'data', 'user_id', 'expires_at', 'last_seen_at'] as const;

/**
 * Sessions in the `sessions` table of Keel's own database (SQLite or PostgreSQL), through the
 * connection DatabaseService owns. Expired rows are invisible to every read (`expires_at > now`)
 * and removed by `deleteExpired`, which the sweeper task calls.
 */
export class DatabaseSessionBackend implements SessionBackend {
  readonly kind = 'database';
  readonly shared = true;
  private readonly pageSize: number;
  private readonly pingTimeoutMs: number;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: DatabaseSessionBackendOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
  }

  get(sid: string): Promise<StoredSession | undefined> {
    return this.run(async () => {
      const row = await this.liveSessions().where('sid', '=', sid).executeTakeFirst();
      return row && toStoredSession(row);
    });
  }

  getMany(sids: readonly string[]): Promise<StoredSession[]> {
    if (sids.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      const rows = await this.liveSessions().where('sid', 'in', sids).execute();
      return rows.map(toStoredSession);
    });
  }

  putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    const now = Date.now();
    const live = sessions.filter((session) => session.expiresAt > now);
    if (live.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      // One statement: a live row is left as it is; an expired one not swept yet is no session,
      // so it is replaced. RETURNING names the rows inserted or replaced (PostgreSQL, and
      // SQLite since 3.35).
      const rows = await this.db
        .insertInto('sessions')
        .values(live.map((session) => ({ sid: session.sid, ...toRow(session), updated_at: now })))
        .onConflict((conflict) =>
          conflict
            .column('sid')
            .doUpdateSet((eb) => ({
              data: eb.ref('excluded.data'),
              user_id: eb.ref('excluded.user_id'),
              expires_at: eb.ref('excluded.expires_at'),
              last_seen_at: eb.ref('excluded.last_seen_at'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where('sessions.expires_at', '<=', now),
        )
        .returning('sid')
        .execute();
      return rows.map((row) => row.sid);
    });
  }

  put(session: StoredSession): Promise<void> {
    return this.run(async () => {
      const now = Date.now();
      if (session.expiresAt <= now) {
        await this.db.deleteFrom('sessions').where('sid', '=', session.sid).execute();
        return;
      }
      const row = { ...toRow(session), updated_at: now };
      await this.db
        .insertInto('sessions')
        .values({ sid: session.sid, ...row })
        .onConflict((conflict) => conflict.column('sid').doUpdateSet(row))
        .execute();
    });
  }

  update(session: StoredSession): Promise<boolean> {
    return this.run(async () => {
      const now = Date.now();
      if (session.expiresAt <= now) {
        await this.db.deleteFrom('sessions').where('sid', '=', session.sid).execute();
        return false;
      }
      // Only a live row: a session destroyed (or expired) meanwhile is not written back.
      const result = await this.db
        .updateTable('sessions')
        .set({ ...toRow(session), updated_at: now })
        .where('sid', '=', session.sid)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  async touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    await this.touchLive(sid, expiresAt, lastSeenAt);
  }

  /**
   * `touch`, resolving to whether a live row took the new expiry (the read cache keeps its
   * entry only then: a row gone without a change notice must not stay served).
   */
  touchLive(sid: string, expiresAt: number, lastSeenAt: number): Promise<boolean> {
    return this.run(async () => {
      const now = Date.now();
      if (expiresAt <= now) {
        await this.db.deleteFrom('sessions').where('sid', '=', sid).execute();
        return false;
      }
      // Only a live row: touching must not revive a session that has already expired.
      const result = await this.db
        .updateTable('sessions')
        .set({ expires_at: expiresAt, last_seen_at: lastSeenAt, updated_at: now })
        .where('sid', '=', sid)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  destroy(sid: string): Promise<void> {
    return this.run(async () => {
      await this.db.deleteFrom('sessions').where('sid', '=', sid).execute();
    });
  }

  /** Keyset pagination on the primary key: each page is one bounded query, however many rows. */
  async *entries(): AsyncIterable<StoredSession> {
    let after: string | undefined;
    for (;;) {
      const cursor = after;
      const page = await this.run(() => {
        let query = this.liveSessions();
        if (cursor !== undefined) query = query.where('sid', '>', cursor);
        return query.orderBy('sid').limit(this.pageSize).execute();
      });
      for (const row of page) yield toStoredSession(row);
      if (page.length < this.pageSize) return;
      after = page[page.length - 1].sid;
    }
  }

  length(): Promise<number> {
    return this.run(async () => {
      const { count } = await this.db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll<number | string | bigint>().as('count'))
        .where('expires_at', '>', Date.now())
        .executeTakeFirstOrThrow();
      return Number(count);
    });
  }

  clear(): Promise<void> {
    return this.run(async () => {
      await this.db.deleteFrom('sessions').execute();
    });
  }

  listByUser(userId: string): Promise<StoredSession[]> {
    return this.run(async () => {
      const rows = await this.liveSessions().where('user_id', '=', userId).execute();
      return rows.map(toStoredSession);
    });
  }

  destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    return this.run(async () => {
      let query = this.db
        .deleteFrom('sessions')
        .where('user_id', '=', userId)
        .where('expires_at', '>', Date.now());
      if (exceptSid !== undefined) query = query.where('sid', '!=', exceptSid);
      // RETURNING (PostgreSQL, and SQLite since 3.35): exactly the rows this statement deleted.
      const rows = await query.returning('sid').execute();
      return rows.map((row) => row.sid);
    });
  }

  /** Deletes rows expired at `now`; resolves to how many. Run periodically by the sweeper. */
  deleteExpired(now = Date.now()): Promise<number> {
    return this.run(async () => {
      const result = await this.db
        .deleteFrom('sessions')
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  async ping(): Promise<void> {
    await withTimeout(
      this.run(async () => {
        await sql`select 1`.execute(this.db);
      }),
      this.pingTimeoutMs,
      () =>
        new SessionStoreUnavailableError('database', `no answer within ${this.pingTimeoutMs} ms`),
    );
  }

  /** The connection belongs to DatabaseService, which closes it at shutdown: nothing to release. */
  async close(): Promise<void> {}

  /** The sessions still live now (expired rows are invisible to every read). */
  private liveSessions() {
    return this.db
      .selectFrom('sessions')
      .select(SESSION_COLUMNS)
      .where('expires_at', '>', Date.now());
  }

  /** Runs a query, turning "the database cannot be reached" into SessionStoreUnavailableError. */
  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) {
        throw new SessionStoreUnavailableError('database', describeError(error.cause), {
          cause: error,
        });
      }
      throw error;
    }
  }
}

function toStoredSession(row: SessionRow): StoredSession {
  return {
    sid: row.sid,
    data: row.data,
    userId: row.user_id,
    expiresAt: Number(row.expires_at),
    lastSeenAt: Number(row.last_seen_at),
  };
}

function toRow(session: StoredSession) {
  return {
    data: session.data,
    user_id: session.userId,
    expires_at: session.expiresAt,
    last_seen_at: session.lastSeenAt,
  };
}

function describeError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof message === 'string' && message) return message;
  return typeof code === 'string' ? code : String(error);
}
