import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';

/** The machine's PostgreSQL and Redis, when the run was given them (see global-setup.js). */
export const POSTGRES_URL = process.env.DATABASE_URL;
export const REDIS_URL = process.env.REDIS_URL;

export const describeWithPostgres = POSTGRES_URL ? describe : describe.skip;
export const describeWithRedis = REDIS_URL ? describe : describe.skip;

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export interface TemporaryDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A freshly created PostgreSQL database for one test file, dropped (connections and all) after. */
export async function createPostgresDatabase(): Promise<TemporaryDatabase> {
  if (!POSTGRES_URL) throw new Error('DATABASE_URL is not set');
  const name = uniqueName('keel_test');
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => dropPostgresDatabaseAt(url.toString()) };
}

/** Drops the test database `url` names (connections and all). */
export async function dropPostgresDatabaseAt(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^keel_[a-z0-9_]+$/.test(name))
    throw new Error(`refusing to drop ${name}: not a test database`);
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Deletes every key of the machine's Redis under `prefix` (a test's own REDIS_PREFIX). */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  if (!REDIS_URL) return;
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  try {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length) await redis.del(keys);
    }
  } finally {
    await redis.close();
  }
}
