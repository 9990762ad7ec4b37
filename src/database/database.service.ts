import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { type Kysely, sql } from 'kysely';
import { dirname } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DataDirectory } from '../config/data-directory.js';
import { connectDatabase } from './connect.js';
import { migrateToLatest } from './migrate.js';
import type { DatabaseSchema } from './schema.js';

/**
 * Owns the connection (a pool on PostgreSQL, one file handle on SQLite) for the life of the
 * process. Migrations run in `onApplicationBootstrap`; DatabaseModule is the deepest module,
 * so its hook runs before any feature's hook reads a table.
 */
@Injectable()
export class DatabaseService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseService.name);
  readonly db: Kysely<DatabaseSchema>;
  readonly dialect: 'sqlite' | 'postgres';

  constructor(config: AppConfig, dataDirectory: DataDirectory) {
    // The default SQLite file lives in DATA_DIR: check that directory (and create it) first.
    if (
      config.database.dialect === 'sqlite' &&
      dirname(config.database.file) === dataDirectory.path
    ) {
      dataDirectory.prepare();
    }
    const connection = connectDatabase(config.database, (error) =>
      this.logger.warn(`Idle database connection failed and will be replaced: ${error.message}`),
    );
    this.db = connection.db;
    this.dialect = connection.dialect;
  }

  async onApplicationBootstrap(): Promise<void> {
    const applied = await migrateToLatest(this.db as unknown as Kysely<unknown>);
    if (applied.length > 0) this.logger.log(`Applied migrations: ${applied.join(', ')}`);
  }

  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}
