import { parseArgs } from 'node:util';
import { copyDatabase, DatabaseCopyError } from './database-copy.js';

// node dist/tools/migrate-database.js --from sqlite:./data/keel.sqlite --to postgres://... [--sessions]
// Copies a Keel database into a new, empty one (docs/operations.md, "From SQLite to
// PostgreSQL"). Exit codes: 0 copied, 1 failed, 2 bad arguments.

const USAGE = `Usage: node dist/tools/migrate-database.js --from <database> --to <database> [--sessions]

  --from      the database Keel ran on: sqlite:<file> (or a file path) or postgres://...
  --to        a new, empty database: postgres://user:password@host:5432/keel (or sqlite:<file>)
  --sessions  copy live sessions too (otherwise everyone signs in again)

Stop Keel before copying. Both databases are migrated to this version's schema first.`;

async function main(): Promise<number> {
  let values: { from?: string; to?: string; sessions?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        sessions: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.from || !values.to) {
    process.stderr.write(`--from and --to are required\n${USAGE}\n`);
    return 2;
  }
  try {
    await copyDatabase({
      from: values.from,
      to: values.to,
      sessions: values.sessions ?? false,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write('Done. Start Keel with DATABASE_URL set to the new database.\n');
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      error instanceof DatabaseCopyError
        ? `${message}\n`
        : `Copy failed; nothing was copied: ${message}\n`,
    );
    return 1;
  }
}

process.exitCode = await main();
