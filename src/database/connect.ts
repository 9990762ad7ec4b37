import type Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import { dirname } from 'node:path';
import type pg from 'pg';
import { createPrivateDirectory, createPrivateFileIfAbsent } from '../common/private-files.js';
import type { DatabaseTarget } from '../config/app-config.js';
import { postgresDriver, sqliteDriver } from './drivers.js';
import { withUnavailability } from './database-unavailable.js';
import type { DatabaseSchema } from './schema.js';

const PG_INT8_OID = 20;
/** Distinct SQL texts kept prepared; Keel issues a few dozen. */
const STATEMENT_CACHE_SIZE = 256;

export interface DatabaseConnection {
  readonly db: Kysely<DatabaseSchema>;
  readonly dialect: DatabaseTarget['dialect'];
}

/**
 * The one place where the two dialects differ in how they connect. Everything above this uses
 * Kysely's query builder and the conventions in schema.ts; a database that cannot be reached
 * raises DatabaseUnavailableError, whichever the dialect.
 */
export function connectDatabase(
  target: DatabaseTarget,
  onPoolError: (error: Error) => void,
): DatabaseConnection {
  if (target.dialect === 'sqlite') {
    // The file holds password hashes and session ids: a new one is created 0600 before SQLite
    // opens it, and SQLite gives its -wal and -shm files the same mode. An existing file keeps
    // the mode it has (DataDirectory warns when DATA_DIR itself is open to others).
    createPrivateDirectory(dirname(target.file));
    createPrivateFileIfAbsent(target.file);
    const dialect = new SqliteDialect({
      database: async () => {
        const sqlite = new (sqliteDriver())(target.file);
        // WAL lets readers run beside the single writer; busy_timeout rides out a checkpoint.
        sqlite.pragma('journal_mode = WAL');
        sqlite.pragma('synchronous = NORMAL');
        sqlite.pragma('busy_timeout = 5000');
        sqlite.pragma('foreign_keys = ON');
        return withStatementCache(sqlite);
      },
    });
    return {
      db: new Kysely<DatabaseSchema>({ dialect: withUnavailability(dialect) }),
      dialect: 'sqlite',
    };
  }

  const { Pool, types } = postgresDriver();
  const pool = new Pool({
    connectionString: target.url,
    max: 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    // Epoch-millisecond columns are bigint; they fit a JS number, so parse them as one.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID
          ? (value: string) => Number(value)
          : types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose server connection drops emits 'error' on the pool; unheard, that
  // would crash the process. The pool replaces the client on the next checkout.
  pool.on('error', onPoolError);
  // A client checked out of the pool has no error listener of pg-pool's: if the server ends
  // its connection between two statements (a failover, pg_terminate_backend), the 'error'
  // would be unhandled and crash the process. The query in flight fails on its own; the pool
  // discards the broken client when it is released.
  pool.on('connect', (client) => client.on('error', onPoolError));
  return {
    db: new Kysely<DatabaseSchema>({ dialect: withUnavailability(new PostgresDialect({ pool })) }),
    dialect: 'postgres',
  };
}

/**
 * Kysely prepares every query anew; on SQLite preparing costs more than running the small
 * primary-key reads on the request path. Statements are reusable (Keel never streams a query,
 * which would keep one busy), so keep them by SQL text.
 */
function withStatementCache(sqlite: Sqlite.Database): SqliteDatabase {
  const statements = new Map<string, Sqlite.Statement>();
  return {
    close: () => {
      statements.clear();
      sqlite.close();
    },
    prepare: (sql: string) => {
      let statement = statements.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) {
          statements.delete(statements.keys().next().value as string);
        }
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
