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
type ClientOptions = NonNullable<Parameters<ReturnType<typeof Redis.RedisClient.factory>>[0]>;

/**
 * What every Keel client is built with: no modules, functions or scripts, the core commands only.
 * node-redis builds a client class per such configuration (about 100 ms of one core and 5 MiB
 * of heap for the core commands) and caches only the last one, keyed by the options
 * `createClient` is given: Keel's clients differ in their options (names, timeouts), so each
 * `createClient` built its own class again. Through `factory` with this one constant they all
 * share one class: the first client pays, the others take 0.1 ms. (A client made elsewhere in
 * the process through `createClient`, as the tests' helpers do, takes the cache's one place,
 * and Keel's next client builds the class again: slower, never wrong.) See
 * docs/performance.md, "Redis clients".
 */
const CORE_COMMANDS_ONLY = Object.freeze({});

/** A node-redis client with the core commands; not connected yet. */
export function createRedisClient(options: ClientOptions): RedisClient {
  return redisLibrary().RedisClient.factory(CORE_COMMANDS_ONLY)(options) as RedisClient;
}
