import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { DependencyUnavailableError } from '../http/dependency-unavailable.js';
import { ErrorCode } from '../http/error-codes.js';
import { isDatabaseUnreachable } from './connection-errors.js';

/** The database cannot be reached (a lost or refused connection), as opposed to a bad query. */
export class DatabaseUnavailableError extends DependencyUnavailableError {
  override readonly name = 'DatabaseUnavailableError';
  readonly code = ErrorCode.DatabaseUnavailable;
  readonly publicMessage = 'The database cannot be reached right now; try again shortly';
  readonly retryAfterSeconds = 2;

  constructor(cause: unknown) {
    super(`Database unreachable: ${describe(cause)}`, { cause });
  }
}

/**
 * `dialect` with every driver error that means "the database cannot be reached" raised as a
 * DatabaseUnavailableError: whoever runs a query (a repository, the session store, a probe)
 * meets one error type, and the HTTP edge answers it 503 without knowing the database.
 */
export function withUnavailability(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => new UnavailabilityDriver(dialect.createDriver()),
  };
}

class UnavailabilityDriver implements Driver {
  private readonly wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(private readonly driver: Driver) {}

  init(): Promise<void> {
    return mapped(() => this.driver.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await mapped(() => this.driver.acquireConnection());
    const outer: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
        mapped(() => connection.executeQuery<R>(query)),
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) =>
        connection.streamQuery<R>(query, chunkSize),
    };
    this.wrapped.set(outer, connection);
    return outer;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return mapped(() => this.driver.beginTransaction(this.inner(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.driver.commitTransaction(this.inner(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.driver.rollbackTransaction(this.inner(connection)));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(this.inner(connection));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }

  private inner(connection: DatabaseConnection): DatabaseConnection {
    return this.wrapped.get(connection) ?? connection;
  }
}

async function mapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw isDatabaseUnreachable(error) ? new DatabaseUnavailableError(error) : error;
  }
}

function describe(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return typeof message === 'string' ? message : String(code ?? error);
}
