import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import { MigratingBackend } from '../../src/session-cache/migrating-backend.js';
import { COPY_BATCH_SIZE } from '../../src/session-cache/session-copy.js';
import { aReplica } from '../factories/replicas.js';
import { newTestSessionCache, type TestSessionCache } from '../factories/session-cache.js';
import {
  aSession,
  contentsOf,
  FakeSharedBackend,
  seed,
  sessionsOf,
} from '../factories/sessions.js';
import { aUser } from '../factories/users.js';

// The swap's decisions with fakes (test/factories): what it copies, when it empties a backend,
// what it reverts to, what it tells the registry. test/session-cache/live-swap*.e2e.spec.ts
// and the failed-swap suite check the same against real Redis and PostgreSQL.

const users = [aUser(), aUser(), aUser()];
const change = (version: number) => ({ version, changedAt: Date.now() });

/** Lets the background work (closing a drained backend) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('SessionSwap', () => {
  const caches: TestSessionCache[] = [];
  /** A cache for this test, closed after it (a handover left running stops). */
  async function cacheWith(options: Parameters<typeof newTestSessionCache>[0] = {}) {
    const cache = await newTestSessionCache(options);
    caches.push(cache);
    return cache;
  }
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });

  it('copies every session to the new backend and serves it alone once the change is stored', async () => {
    const memory = new MemorySessionBackend();
    const sessions = sessionsOf(users, 50);
    await seed(memory, sessions);
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ serving: memory, backends: { redis } });

    const prepared = await cache.swaps.prepare('redis', change(1));
    // Copied, but not alone yet: the change is not stored. Writes reach both.
    expect(cache.active.backend).toBeInstanceOf(MigratingBackend);
    expect(cache.active.status()).toMatchObject({ swapping: true });
    expect(cache.registry.reports).toEqual([]);

    await prepared.commit();
    expect(cache.active.backend).toBe(redis);
    const copied = await contentsOf(redis);
    expect([...copied.values()].sort(bySid)).toEqual([...sessions].sort(bySid));
    expect(cache.registry.lastReport).toEqual({
      backend: 'redis',
      version: 1,
      previous: null,
      readsPrevious: false,
    });
    expect(cache.swapped).toEqual([
      expect.objectContaining({ from: 'memory', to: 'redis', migrated: 50 }),
    ]);
    expect(cache.swapped[0]).not.toHaveProperty('error');
    expect(cache.active.status()).toMatchObject({ backend: 'redis', swapping: false });
  });

  it('empties the new backend first when no other replica uses it: nothing stale survives there', async () => {
    const redis = new FakeSharedBackend('redis');
    const stale = aSession({ user: users[0] });
    await seed(redis.store, [stale]);
    const cache = await cacheWith({ backends: { redis } });
    await (await cache.swaps.prepare('redis', change(1))).commit();
    expect(await redis.get(stale.sid)).toBeUndefined();
  });

  it('never empties a backend that another live replica serves or still writes', async () => {
    for (const report of [
      { backend: 'redis' as const, version: 3 },
      { backend: 'database' as const, previous: 'redis' as const, readsPrevious: true },
    ]) {
      const redis = new FakeSharedBackend('redis');
      const live = aSession({ user: users[0] });
      await seed(redis.store, [live]);
      const cache = await cacheWith({ backends: { redis } });
      cache.registry.others = [aReplica({ sessionCache: report })];
      await (await cache.swaps.prepare('redis', change(1))).commit();
      expect(redis.calls).not.toContain('clear');
      expect(await redis.get(live.sid)).toEqual(live);
    }
  });

  it('from its own memory into a backend nobody else uses, reads the old one first: a read neither waits on the new one nor fails with it', async () => {
    const memory = new MemorySessionBackend();
    const [kept, dropped] = sessionsOf(users, 2);
    await seed(memory, [kept!, dropped!]);
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ serving: memory, backends: { redis } });

    const prepared = await cache.swaps.prepare('redis', change(1));
    try {
      const pair = cache.active.backend as MigratingBackend;
      expect(pair).toBeInstanceOf(MigratingBackend);
      expect(pair.reads).toBe('source-then-target');
      // The new backend stops answering while the pair is in force (Redis dies mid-swap).
      redis.failing.add('get');
      redis.failing.add('getMany');
      const reads = redis.calls.length;
      expect(await pair.get(kept!.sid)).toEqual(kept);
      expect(await pair.getMany([kept!.sid])).toEqual([kept]);
      expect(redis.calls.length).toBe(reads);
      // A session the old backend dropped after it was copied (a full memory backend evicts)
      // is still found in the new one.
      redis.failing.clear();
      await memory.destroy(dropped!.sid);
      expect(await pair.get(dropped!.sid)).toEqual(dropped);
    } finally {
      redis.failing.clear();
      await prepared.commit();
    }
  });

  it('reads the new backend first when another live replica uses it (it may hold newer data)', async () => {
    const memory = new MemorySessionBackend();
    const [session] = sessionsOf(users, 1);
    await seed(memory, [session!]);
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ serving: memory, backends: { redis } });
    cache.registry.others = [aReplica({ sessionCache: { backend: 'redis', version: 3 } })];

    const prepared = await cache.swaps.prepare('redis', change(1));
    try {
      const pair = cache.active.backend as MigratingBackend;
      expect(pair.reads).toBe('target-then-source');
      // Another replica changed the session in the new backend: that is what a read sees.
      const newer = { ...session!, data: '{"newer":true}', lastSeenAt: session!.lastSeenAt + 1 };
      await redis.sibling().put(newer);
      expect(await pair.get(session!.sid)).toEqual(newer);
    } finally {
      await prepared.commit();
    }
  });

  it('on abort, goes back to the old backend with every write made during the copy', async () => {
    const memory = new MemorySessionBackend();
    const [kept, ended] = sessionsOf(users, 2);
    await seed(memory, [kept!, ended!]);
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ serving: memory, backends: { redis } });

    const prepared = await cache.swaps.prepare('redis', change(1));
    const signedIn = aSession({ user: users[1] });
    await cache.active.serving().put(signedIn);
    await cache.active.serving().destroy(ended!.sid);
    await prepared.abort('another change was stored first');
    await settle();

    expect(cache.active.backend).toBe(memory);
    expect(await memory.get(signedIn.sid)).toEqual(signedIn);
    expect(await memory.get(ended!.sid)).toBeUndefined();
    expect(await memory.get(kept!.sid)).toEqual(kept);
    expect(redis.closed).toBe(true);
    // Not a failed swap: the copy went through, the change lost a race.
    expect(cache.swapped).toEqual([]);
    expect(cache.active.status()).toMatchObject({ backend: 'memory', swapping: false });
    expect(cache.registry.reports).toEqual([]);
  });

  it('keeps the old backend in force when the new one does not answer, and says why', async () => {
    const memory = new MemorySessionBackend();
    await seed(memory, sessionsOf(users, 5));
    const redis = new FakeSharedBackend('redis');
    redis.failing.add('ping');
    const cache = await cacheWith({ serving: memory, backends: { redis } });

    await expect(cache.swaps.prepare('redis', change(1))).rejects.toThrow(
      /redis session store cannot be reached: ping/,
    );
    expect(cache.active.backend).toBe(memory);
    expect(await memory.length()).toBe(5);
    expect(cache.swapped).toEqual([
      expect.objectContaining({
        from: 'memory',
        to: 'redis',
        error: expect.stringMatching(/ping/),
      }),
    ]);
    expect(cache.active.status()).toMatchObject({ swapping: false, progress: null });
    // The queue is free: the next swap (on a new connection) is not stuck behind this one.
    expect(redis.closed).toBe(true);
    redis.failing.clear();
    await (await cache.swaps.prepare('redis', change(1))).commit();
    expect(cache.active.backend.kind).toBe('redis');
    expect(cache.active.backend).not.toBe(redis);
  });

  it('reverts when the copy breaks halfway (the new backend dies mid-batch), losing no session', async () => {
    const memory = new MemorySessionBackend();
    const sessions = sessionsOf(users, COPY_BATCH_SIZE + 20);
    await seed(memory, sessions);
    const redis = new FakeSharedBackend('redis');
    let batches = 0;
    const putManyIfAbsent = redis.putManyIfAbsent;
    redis.putManyIfAbsent = async (batch) => {
      // The second batch is written in part, then the backend is gone.
      if (++batches > 1) {
        await putManyIfAbsent(batch.slice(0, 10));
        redis.failing.add('putManyIfAbsent');
      }
      return putManyIfAbsent(batch);
    };
    const cache = await cacheWith({ serving: memory, backends: { redis } });
    await expect(cache.swaps.prepare('redis', change(1))).rejects.toThrow(/putManyIfAbsent/);
    await settle();
    expect(cache.active.backend).toBe(memory);
    expect((await contentsOf(memory)).size).toBe(COPY_BATCH_SIZE + 20);
    // Counted as a failed swap, and the half-filled new backend let go of.
    expect(cache.swapped).toEqual([
      expect.objectContaining({
        from: 'memory',
        to: 'redis',
        error: expect.stringMatching(/putManyIfAbsent/),
      }),
    ]);
    expect(redis.closed).toBe(true);
    expect(cache.active.status()).toMatchObject({ backend: 'memory', swapping: false });
  });

  it('refuses to empty anything when another change was stored meanwhile (two changes raced)', async () => {
    const redis = new FakeSharedBackend('redis');
    const theirs = aSession({ user: users[0] });
    await seed(redis.store, [theirs]);
    const cache = await cacheWith({ backends: { redis } });
    // The winner stored version 1 and may be filling redis already.
    cache.settings.repository.storeElsewhere({ sessionCache: { backend: 'redis' } });

    await expect(cache.swaps.prepare('redis', change(1))).rejects.toThrow(
      /another settings change was stored meanwhile/,
    );
    expect(redis.calls).not.toContain('clear');
    expect(await redis.store.get(theirs.sid)).toEqual(theirs);
  });

  it('runs one swap at a time: the next waits until the prepared one is committed or aborted', async () => {
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ backends: { redis } });
    const prepared = await cache.swaps.prepare('redis', change(1));
    let idle = false;
    const waiting = cache.swaps.idle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    await prepared.commit();
    await waiting;
    expect(idle).toBe(true);
  });

  it('does nothing but report when this replica already serves the backend', async () => {
    const redis = new FakeSharedBackend('redis');
    const cache = await cacheWith({ serving: redis, backends: { redis } });
    await (await cache.swaps.prepare('redis', change(4))).commit();
    expect(cache.active.backend).toBe(redis);
    expect(redis.calls).toEqual([]);
    expect(cache.registry.lastReport).toMatchObject({ backend: 'redis', version: 4 });
    expect(cache.swapped).toEqual([]);
  });

  describe("another replica's change (remote)", () => {
    it('skips a swap the settings no longer ask for', async () => {
      const redis = new FakeSharedBackend('redis');
      const cache = await cacheWith({ backends: { redis } });
      // The settings name memory (version 0): a stale retry for redis must not move anything.
      await cache.swaps.swap('redis', change(1));
      expect(cache.active.backend.kind).toBe('memory');
      expect(redis.calls).toEqual([]);
    });

    it('from a shared backend, copies only what this replica did alone and reads the old one until the handover', async () => {
      const database = new FakeSharedBackend('database');
      const everyone = sessionsOf(users, 10);
      await seed(database, everyone);
      const redis = new FakeSharedBackend('redis');
      const cache = await cacheWith({ serving: database, backends: { redis } });
      // This replica started one session alone on the old backend after the change was made.
      const mine = aSession({ user: users[2] });
      await cache.active.serving().put(mine);
      cache.settings.repository.storeElsewhere({ sessionCache: { backend: 'redis' } });
      await cache.settings.settings.refresh();
      // The other replica is the older: the reconciliation is its to do, not this one's.
      const other = aReplica({
        startedAt: new Date(Date.now() - 60_000).toISOString(),
        sessionCache: { backend: 'redis', version: 1, previous: 'database', readsPrevious: true },
      });
      cache.registry.others = [other];

      await cache.swaps.swap('redis', change(1));
      const pair = cache.active.backend as MigratingBackend;
      expect(pair).toBeInstanceOf(MigratingBackend);
      expect(pair.reads).toBe('source');
      // Carried over: its own session; the others are the handover's to reconcile.
      expect(await redis.get(mine.sid)).toEqual(mine);
      expect((await contentsOf(redis)).size).toBe(1);
      expect(cache.registry.lastReport).toEqual({
        backend: 'redis',
        version: 1,
        previous: 'database',
        readsPrevious: true,
      });
      // It waits for the other replica, which reconciles and moves on; then it does too.
      await settle();
      expect(cache.active.backend).toBe(pair);
      expect(pair.reads).toBe('source');
      cache.registry.update(other.instanceId, { readsPrevious: false });
      await cache.swaps.idle();
      expect(cache.active.backend).toBe(redis);
      expect(cache.registry.lastReport).toMatchObject({ previous: null, readsPrevious: false });
    });
  });
});

function bySid(a: { sid: string }, b: { sid: string }): number {
  return a.sid.localeCompare(b.sid);
}
