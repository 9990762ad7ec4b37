import { createClient } from 'redis';

/** Deletes every key under `prefix`: what a benchmark's Keel left in the machine's Redis. */
export async function clearRedisPrefix(url, prefix) {
  const redis = createClient({ url });
  await redis.connect();
  try {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length) await redis.del(keys);
  } finally {
    await redis.close();
  }
}
