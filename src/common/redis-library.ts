import { createRequire } from 'node:module';
import type * as Redis from 'redis';

const requireFromHere = createRequire(import.meta.url);

/**
 * node-redis, loaded the first time a Redis client is made. It is about 700 files (with its
 * modules and OpenTelemetry's API), a quarter of what Keel loads at start-up; a process without
 * REDIS_URL never needs them. A CommonJS package: `require` gets it synchronously, so the
 * clients' constructors stay synchronous.
 */
export function redisLibrary(): typeof Redis {
  return requireFromHere('redis') as typeof Redis;
}
