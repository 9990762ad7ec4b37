import { createRedisClient } from '../../src/common/redis-library.js';

// node-redis builds a class of several hundred commands for each client whose options differ
// from the last one's (about 100 ms and 5 MiB each): at start-up with REDIS_URL that was a
// third of a second, and a swap to redis stalled every request while it built another.
describe('createRedisClient', () => {
  it('gives clients with different options one shared command class', () => {
    const clients = [
      createRedisClient({ url: 'redis://127.0.0.1:1', name: 'keel-a' }),
      createRedisClient({
        url: 'redis://127.0.0.1:2',
        disableOfflineQueue: true,
        commandOptions: { timeout: 500 },
        socket: { connectTimeout: 100, reconnectStrategy: () => 50 },
      }),
      createRedisClient({ url: 'redis://127.0.0.1:3', pingInterval: 1000 }),
    ];
    const [first, ...others] = clients;
    for (const other of others) {
      expect(other.get).toBe(first.get);
      expect(other.eval).toBe(first.eval);
    }
    // Each client still has its own options.
    expect(clients.map((client) => client.options?.url)).toEqual([
      'redis://127.0.0.1:1',
      'redis://127.0.0.1:2',
      'redis://127.0.0.1:3',
    ]);
  });

  it('carries the core commands only, not the Redis Stack modules Keel never sends', () => {
    const client = createRedisClient({ url: 'redis://127.0.0.1:1' });
    expect(typeof client.eval).toBe('function');
    expect(typeof client.zAdd).toBe('function');
    for (const module of ['json', 'ft', 'ts', 'bf']) expect(module in client).toBe(false);
  });
});
