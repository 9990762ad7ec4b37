import { createClient } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisSessionBackend } from '../../src/session-cache/backends/redis-session.backend.js';
import {
  SessionStoreUnavailableError,
  type StoredSession,
} from '../../src/session-cache/session-backend.js';
import { KeelSessionStore } from '../../src/session-cache/session-store.js';
import { describeWithRedis, REDIS_URL, uniqueName } from '../support/services.js';
import { freePort, OwnRedisServer, describeWithRedisServer } from '../support/redis-server.js';
import { COOKIE_ATTRIBUTES, sessionWith, storeCalls } from './support/session-fixtures.js';

const HOUR = 3_600_000;

function session(sid: string, userId: string | null = null): StoredSession {
  const now = Date.now();
  return { sid, data: JSON.stringify({ sid }), userId, expiresAt: now + HOUR, lastSeenAt: now };
}

function recordingLogger() {
  const lines: string[] = [];
  return {
    lines,
    log: (message: unknown) => void lines.push(`log: ${String(message)}`),
    warn: (message: unknown) => void lines.push(`warn: ${String(message)}`),
  };
}

async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

async function elapsed(work: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await work();
  return Date.now() - started;
}

describeWithRedisServer('redis session backend when Redis is unreachable', () => {
  const servers: OwnRedisServer[] = [];
  const backends: RedisSessionBackend[] = [];
  const fastOptions = () => ({
    connectTimeoutMs: 1000,
    commandTimeoutMs: 500,
    maxReconnectDelayMs: 100,
    logger: recordingLogger(),
  });

  afterEach(async () => {
    await Promise.all(backends.splice(0).map((backend) => backend.close()));
    await Promise.all(servers.splice(0).map((server) => server.kill()));
  });

  it('refuses to connect, within 3 s, to a port where no Redis listens', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const took = await elapsed(() =>
      expect(RedisSessionBackend.connect(url, 'keel:')).rejects.toBeInstanceOf(
        SessionStoreUnavailableError,
      ),
    );
    expect(took).toBeLessThan(3000);
  });

  it('when started before its Redis, fails fast meanwhile and serves once Redis is up', async () => {
    const server = new OwnRedisServer(await freePort());
    servers.push(server);
    const backend = await RedisSessionBackend.connect(server.url, 'keel:', {
      ...fastOptions(),
      waitForConnection: false,
    });
    backends.push(backend);

    const took = await elapsed(async () => {
      await expect(backend.ping()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
      await expect(backend.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    });
    expect(took).toBeLessThan(3000);

    await server.start();
    await eventually(() => backend.ping());
    await backend.put(session('s1'));
    expect(await backend.get('s1')).toMatchObject({ sid: 's1' });
  });

  it('fails fast while its Redis is down and serves again once it is back, without being rebuilt', async () => {
    const server = new OwnRedisServer(await freePort());
    servers.push(server);
    await server.start();
    const options = fastOptions();
    const backend = await RedisSessionBackend.connect(server.url, 'keel:', options);
    backends.push(backend);
    const store = storeCalls(
      new KeelSessionStore({
        backend: () => backend,
        cookie: COOKIE_ATTRIBUTES,
        idleTimeoutMs: () => HOUR,
        absoluteTimeoutMs: () => 24 * HOUR,
      }),
    );
    await store.set('s1', sessionWith({ userId: 'u1' }));

    await server.kill();
    const took = await elapsed(async () => {
      await expect(backend.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
      await expect(backend.put(session('s2'))).rejects.toBeInstanceOf(SessionStoreUnavailableError);
      await expect(backend.ping()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
      // What express-session sees: an error (so the request gets 503), never "no session".
      await expect(store.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    });
    expect(took).toBeLessThan(3000);

    await server.start(); // same port; a fresh, empty Redis
    await eventually(() => backend.ping());
    await store.set('s3', sessionWith({ userId: 'u1' }));
    expect(await store.get('s3')).toMatchObject({ userId: 'u1' });
    expect((await backend.listByUser('u1')).map((s) => s.sid)).toEqual(['s3']);
    // One line when the connection went, one when it came back: not one per retry.
    expect(options.logger.lines).toEqual([
      expect.stringMatching(/^warn: Redis session store connection lost/),
      'log: Redis session store connected again',
    ]);
  });

  it('bounds every call when Redis accepts connections but stops answering', async () => {
    const server = new OwnRedisServer(await freePort());
    servers.push(server);
    await server.start();
    const backend = await RedisSessionBackend.connect(server.url, 'keel:', fastOptions());
    backends.push(backend);
    await backend.put(session('s1'));

    server.pause();
    try {
      const took = await elapsed(async () => {
        await expect(backend.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
        await expect(backend.ping()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
      });
      expect(took).toBeLessThan(3000);
    } finally {
      server.resume();
    }
    await eventually(async () => expect(await backend.get('s1')).toMatchObject({ sid: 's1' }));
  });

  it('fails as unavailable once closed, and closing twice is harmless', async () => {
    const server = new OwnRedisServer(await freePort());
    servers.push(server);
    await server.start();
    const backend = await RedisSessionBackend.connect(server.url, 'keel:', fastOptions());
    await backend.close();
    await backend.close();
    await expect(backend.get('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableError);
  });
});

describeWithRedis('redis session backend on a shared Redis', () => {
  const base = uniqueName('keel-test');
  const raw = createClient({ url: REDIS_URL });

  beforeAll(async () => {
    await raw.connect();
  });
  afterAll(async () => {
    for await (const keys of raw.scanIterator({ MATCH: `${base}*`, COUNT: 500 })) {
      if (keys.length > 0) await raw.unlink(keys);
    }
    raw.destroy();
  });

  it('clears only the keys under its own prefix, even when the prefix holds glob characters', async () => {
    const globby = await RedisSessionBackend.connect(REDIS_URL as string, `${base}*:`);
    const neighbour = await RedisSessionBackend.connect(REDIS_URL as string, `${base}A:`);
    try {
      await globby.put(session('s1', 'u1'));
      await neighbour.put(session('s1', 'u1'));
      await raw.set(`${base}A:not-a-session`, 'kept');

      await globby.clear();

      expect(await globby.length()).toBe(0);
      expect(await globby.listByUser('u1')).toEqual([]);
      expect(await neighbour.get('s1')).toMatchObject({ sid: 's1' });
      expect((await neighbour.listByUser('u1')).map((s) => s.sid)).toEqual(['s1']);
      expect(await raw.get(`${base}A:not-a-session`)).toBe('kept');
      expect(await raw.keys(`${base}\\*:*`)).toEqual([]);
    } finally {
      await globby.close();
      await neighbour.close();
    }
  });

  it('reads a session with its expiry, and no session where the key is missing or never expires', async () => {
    const prefix = `${base}read:`;
    const backend = await RedisSessionBackend.connect(REDIS_URL as string, prefix);
    try {
      const stored = session('s1', 'u1');
      await backend.put(stored);
      expect(await backend.get('s1')).toEqual(stored);
      expect(await backend.getMany(['s1'])).toEqual([stored]);
      expect(await backend.get('missing')).toBeUndefined();
      // A key without expiry under the prefix is none this backend wrote (it always sets PXAT).
      await raw.set(`${prefix}sess:s2`, JSON.stringify({ data: '{}', userId: null }));
      expect(await backend.get('s2')).toBeUndefined();
      expect(await backend.getMany(['s2', 's1'])).toEqual([stored]);
    } finally {
      await backend.clear();
      await backend.close();
    }
  });

  it('stores the session key and the user index with expiries, so Redis itself forgets them', async () => {
    const prefix = `${base}ttl:`;
    const backend = await RedisSessionBackend.connect(REDIS_URL as string, prefix);
    try {
      const expiresAt = Date.now() + HOUR;
      const data = JSON.stringify({ note: 'a "quoted" / slashed é ✓ value', n: 1764500000123 });
      await backend.put({ sid: 's1', data, userId: 'u1', expiresAt, lastSeenAt: 1 });
      expect(await raw.pExpireTime(`${prefix}sess:s1`)).toBe(expiresAt);
      expect(await raw.pExpireTime(`${prefix}user:u1`)).toBe(expiresAt);
      const lastSeenAt = Date.now();
      await backend.touch('s1', expiresAt + 1000, lastSeenAt);
      expect(await raw.pExpireTime(`${prefix}sess:s1`)).toBe(expiresAt + 1000);
      expect(await raw.pExpireTime(`${prefix}user:u1`)).toBe(expiresAt + 1000);
      expect(await raw.zScore(`${prefix}user:u1`, 's1')).toBe(expiresAt + 1000);
      // The touch script rewrites the value as it read it, with lastSeenAt moved.
      expect(await backend.get('s1')).toEqual({
        sid: 's1',
        data,
        userId: 'u1',
        expiresAt: expiresAt + 1000,
        lastSeenAt,
      });
      // The conditional update moves the expiry and the index the same way.
      expect(
        await backend.update({
          sid: 's1',
          data: '{}',
          userId: 'u1',
          expiresAt: expiresAt + 2000,
          lastSeenAt,
        }),
      ).toBe(true);
      expect(await raw.pExpireTime(`${prefix}sess:s1`)).toBe(expiresAt + 2000);
      expect(await raw.zScore(`${prefix}user:u1`, 's1')).toBe(expiresAt + 2000);
    } finally {
      await backend.clear();
      await backend.close();
    }
  });
});
