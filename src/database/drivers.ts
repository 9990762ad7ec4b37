import type Sqlite from 'better-sqlite3';
import { createRequire } from 'node:module';
import type pg from 'pg';

const requireFromHere = createRequire(import.meta.url);
/** What `postgresDriver` loads; the production bundle loads its own one-file build instead. */
const NODE_POSTGRES = 'pg';

/*
 * The two drivers are loaded when a database of their kind is opened, not at import: a process
 * uses one of them, and the other is files to read and, for better-sqlite3, a native addon to
 * open, at every start. Both are CommonJS: `require` gets them synchronously.
 */

/** node-postgres. */
export function postgresDriver(): typeof pg {
  return requireFromHere(NODE_POSTGRES) as typeof pg;
}

/** better-sqlite3's Database class. */
export function sqliteDriver(): typeof Sqlite {
  return requireFromHere('better-sqlite3') as typeof Sqlite;
}
