import type { Kysely } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseTarget } from '../../../src/config/app-config.js';
import { connectDatabase } from '../../../src/database/connect.js';
import { migrateToLatest } from '../../../src/database/migrate.js';
import { DatabaseSessionBackend } from '../../../src/session-cache/backends/database-session.backend.js';
import { MemorySessionBackend } from '../../../src/session-cache/backends/memory-session.backend.js';
import { RedisSessionBackend } from '../../../src/session-cache/backends/redis-session.backend.js';
import { ReadCachedSessionBackend } from '../../../src/session-cache/read-cache/read-cached-session.backend.js';
import { SessionReadCache } from '../../../src/session-cache/read-cache/session-read-cache.js';
import type { SessionBackend } from '../../../src/session-cache/session-backend.js';
import {
  createPostgresDatabase,
  describeWithPostgres,
  describeWithRedis,
  REDIS_URL,
  uniqueName,
} from '../../support/services.js';

// Every backend Keel can swap to, as the real thing: SQLite in a temporary file, a fresh
// PostgreSQL database, the machine's Redis under a prefix of this run's own.

export interface BackendUnderTest {
  backend: SessionBackend;
  cleanup(): Promise<void>;
}

async function databaseBackend(
  target: DatabaseTarget,
  drop: () => Promise<void>,
  { readCached = false } = {},
) {
  const { db } = connectDatabase(target, () => undefined);
  await migrateToLatest(db as unknown as Kysely<unknown>);
  const backend = new DatabaseSessionBackend(db);
  return {
    // As one process sees it (no lease): its own writes invalidate; other replicas' notices
    // are test/session-cache/read-cache-replicas.e2e.spec.ts's.
    backend: readCached
      ? new ReadCachedSessionBackend(backend, new SessionReadCache({ leased: false }))
      : backend,
    async cleanup() {
      await db.destroy();
      await drop();
    },
  };
}

/** [name, describe (skipped without the service), create]. */
export const backendsUnderTest: [string, typeof describe, () => Promise<BackendUnderTest>][] = [
  [
    'memory',
    describe,
    async () => {
      const backend = new MemorySessionBackend();
      return { backend, cleanup: () => backend.close() };
    },
  ],
  [
    'database on SQLite',
    describe,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keel-sessions-'));
      return databaseBackend({ dialect: 'sqlite', file: join(dir, 'keel.sqlite') }, async () =>
        rmSync(dir, { recursive: true, force: true }),
      );
    },
  ],
  [
    'database on PostgreSQL',
    describeWithPostgres,
    async () => {
      const database = await createPostgresDatabase();
      return databaseBackend({ dialect: 'postgres', url: database.url }, () => database.drop());
    },
  ],
  [
    'database on SQLite, read-cached',
    describe,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keel-sessions-'));
      return databaseBackend(
        { dialect: 'sqlite', file: join(dir, 'keel.sqlite') },
        async () => rmSync(dir, { recursive: true, force: true }),
        { readCached: true },
      );
    },
  ],
  [
    'database on PostgreSQL, read-cached',
    describeWithPostgres,
    async () => {
      const database = await createPostgresDatabase();
      return databaseBackend({ dialect: 'postgres', url: database.url }, () => database.drop(), {
        readCached: true,
      });
    },
  ],
  [
    'redis',
    describeWithRedis,
    async () => {
      const backend = await RedisSessionBackend.connect(
        REDIS_URL as string,
        `${uniqueName('keel-test')}:`,
      );
      return {
        backend,
        async cleanup() {
          await backend.clear();
          await backend.close();
        },
      };
    },
  ],
];

/** The suite's backend: created before its tests, cleaned up after them. */
export function backendOfSuite(create: () => Promise<BackendUnderTest>): () => SessionBackend {
  let subject: BackendUnderTest | undefined;
  beforeAll(async () => {
    subject = await create();
  });
  afterAll(async () => {
    await subject?.cleanup();
  });
  return () => subject!.backend;
}
