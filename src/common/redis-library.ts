import { createRequire } from 'node:module';
import type * as Redis from '@redis/client';

const requireFromHere = createRequire(import.meta.url);
/** What `redisLibrary` loads; the production bundle loads its own one-file build instead. */
const NODE_REDIS = '@redis/client';

/**
 * node-redis's core client, loaded the first time a Redis client is made: a process without
 * REDIS_URL never needs its files. Not the `redis` package, which adds the Redis Stack modules'
 * commands (JSON, search, time series, bloom) that Keel never sends. A CommonJS package:
 * `require` gets it synchronously, so the clients' constructors stay synchronous.
 */
export function redisLibrary(): typeof Redis {
  return requireFromHere(NODE_REDIS) as typeof Redis;
}

export type RedisClient = Redis.RedisClientType;
export type RedisClientOptions = Parameters<ReturnType<typeof Redis.RedisClient.factory>>[0];

/**
 * The command set every Keel client is built with: the core commands, nothing else.
 * node-redis builds a client class per command set (about 100 ms and 5 MiB of heap for the
 * core commands) and caches only the last one, keyed by the options `createClient` is given:
 * Keel's clients differ in their options (names, timeouts), so each `createClient` built its
 * own class again. Through `factory` with one constant set they all share one class: the
 * first client pays, the others take 0.1 ms. See docs/performance.md, "Redis clients".
 */
const CORE_COMMANDS = Object.freeze({});

/** A node-redis client with the core commands; not connected yet. */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  return redisLibrary().RedisClient.factory(CORE_COMMANDS)(options) as RedisClient;
}
