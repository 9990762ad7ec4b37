import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { MigratingBackend } from '../../src/session-cache/migrating-backend.js';
import { HandoverAborted, SessionHandover } from '../../src/session-cache/session-handover.js';
import { aReplica, FakeInstanceRegistry } from '../factories/replicas.js';
import { FAST_TIMINGS } from '../factories/session-cache.js';
import { aSession, contentsOf, FakeSharedBackend, seed } from '../factories/sessions.js';
import { aUser } from '../factories/users.js';

// The handover's decisions (docs/architecture.md, "A swap across replicas") against a registry
// the test writes: whom it waits for, who reconciles, when a backend may be emptied or read
// alone. test/scale-out/*.e2e.spec.ts runs the same with real replicas.

const user = aUser();
const past = (ms: number) => new Date(Date.now() - ms).toISOString();
const future = (ms: number) => new Date(Date.now() + ms).toISOString();

function handoverWith(...others: ReturnType<typeof aReplica>[]) {
  const registry = new FakeInstanceRegistry();
  registry.others = others;
  const runtime = new RuntimeStateService();
  const handover = new SessionHandover(registry.asRegistry(), runtime, FAST_TIMINGS);
  return { registry, handover, runtime };
}

/** database -> redis, both shared, as every replica in the handover sees them. */
function sharedPair() {
  const database = new FakeSharedBackend('database');
  const redis = new FakeSharedBackend('redis');
  const pair = new MigratingBackend(database, redis);
  pair.reads = 'source';
  return { database, redis, pair };
}

describe('SessionHandover decisions', () => {
  describe('servedElsewhere: may this backend be emptied?', () => {
    it('no for memory, which no other replica can see', async () => {
      const { handover } = handoverWith(aReplica({ sessionCache: { backend: 'memory' } }));
      expect(await handover.servedElsewhere('memory')).toBe(false);
    });

    it.each([
      ['another replica serves it', { backend: 'redis' as const }, true],
      [
        'another replica still writes it in a handover',
        { backend: 'database' as const, previous: 'redis' as const },
        true,
      ],
      ['the others serve something else', { backend: 'database' as const }, false],
    ])('%s', async (_, sessionCache, expected) => {
      const { handover } = handoverWith(aReplica({ sessionCache }));
      expect(await handover.servedElsewhere('redis')).toBe(expected);
    });

    it('yes when the registry cannot be read: never empty what might be live', async () => {
      const { handover, registry } = handoverWith();
      registry.unreachable = true;
      expect(await handover.servedElsewhere('redis')).toBe(true);
    });
  });

  describe('readAloneElsewhere: is the old backend stale already?', () => {
    it('only once a replica reads the new backend alone for this change or a later one', async () => {
      const reading = { backend: 'redis' as const, previous: 'database' as const };
      const cases = [
        [{ ...reading, version: 2, readsPrevious: true }, false],
        [{ ...reading, version: 2, readsPrevious: false }, true],
        [{ backend: 'redis' as const, version: 3 }, true],
        [{ backend: 'redis' as const, version: 1 }, false],
        [{ backend: 'database' as const, version: 2 }, false],
      ] as const;
      for (const [sessionCache, expected] of cases) {
        const { handover } = handoverWith(aReplica({ sessionCache }));
        expect([sessionCache, await handover.readAloneElsewhere('redis', 2)]).toEqual([
          sessionCache,
          expected,
        ]);
      }
    });
  });

  describe('inProgressTo: does a replica starting now join a handover?', () => {
    it('joins the shared backend the others in this handover still read', async () => {
      const { handover } = handoverWith(
        aReplica({
          sessionCache: { backend: 'redis', version: 5, previous: 'database', readsPrevious: true },
        }),
      );
      expect(await handover.inProgressTo('redis', 5)).toBe('database');
    });

    it.each([
      [
        'they read the new backend already',
        {
          backend: 'redis' as const,
          version: 5,
          previous: 'database' as const,
          readsPrevious: false,
        },
      ],
      [
        'it is a handover of another change',
        {
          backend: 'redis' as const,
          version: 4,
          previous: 'database' as const,
          readsPrevious: true,
        },
      ],
      [
        'the old backend was memory, which cannot be joined',
        { backend: 'redis' as const, version: 5, previous: 'memory' as const, readsPrevious: true },
      ],
      ['a replica is merely left behind', { backend: 'database' as const, version: 3 }],
    ])('not when %s', async (_, sessionCache) => {
      const { handover } = handoverWith(aReplica({ sessionCache }));
      expect(await handover.inProgressTo('redis', 5)).toBeUndefined();
    });

    it('fails the boot rather than guess when the registry cannot be read', async () => {
      const { handover, registry } = handoverWith();
      registry.unreachable = true;
      await expect(handover.inProgressTo('redis', 5)).rejects.toThrow(/cannot be read/);
    });
  });

  it('counts an unreadable registry as other replicas being live', async () => {
    const { handover, registry } = handoverWith();
    expect(await handover.othersLive()).toBe(0);
    registry.unreachable = true;
    expect(await handover.othersLive()).toBe(Number.POSITIVE_INFINITY);
  });

  describe('complete', () => {
    it('as the oldest replica: reconciles the new backend with the old, then reads it, then waits for the others', async () => {
      const { database, redis, pair } = sharedPair();
      const live = aSession({ user });
      const changedSince = aSession({ user, sid: 'changed' });
      const endedOnOld = aSession({ user, sid: 'ended-on-old' });
      await seed(database, [live, changedSince]);
      // A late replica ended `endedOnOld` on the old backend alone; the new one still has it,
      // and an older copy of `changedSince`.
      await seed(redis, [endedOnOld, { ...changedSince, data: '{"stale":true}' }]);
      const younger = aReplica({
        startedAt: future(60_000),
        sessionCache: { backend: 'redis', version: 7, previous: 'database', readsPrevious: true },
      });
      const { handover, registry } = handoverWith(younger);

      let done = false;
      const completing = handover.complete(pair, 7).then(() => (done = true));
      await waitFor(() => pair.reads === 'target');
      expect(await contentsOf(redis)).toEqual(await contentsOf(database));
      expect(registry.lastReport).toEqual({
        backend: 'redis',
        version: 7,
        previous: 'database',
        readsPrevious: false,
      });
      // Still writing both: the younger replica reads the old backend a moment longer (and
      // however long it takes: longer than the handover limit and a poll).
      await pause(500);
      expect(done).toBe(false);
      registry.update(younger.instanceId, { readsPrevious: false });
      await completing;
    });

    it('as a younger replica: leaves the reconciliation to the oldest and reads the new backend after it', async () => {
      const { database, redis, pair } = sharedPair();
      const staleOnNew = aSession({ user, sid: 'stale' });
      await seed(redis, [staleOnNew]);
      const oldest = aReplica({
        startedAt: past(60_000),
        sessionCache: { backend: 'redis', version: 7, previous: 'database', readsPrevious: true },
      });
      const { handover, registry } = handoverWith(oldest);
      const completing = handover.complete(pair, 7);
      await pause(150);
      expect(pair.reads).toBe('source');
      expect(database.calls).not.toContain('entries');
      // The oldest reconciled (here: it did not, so the stale session shows who did the pass).
      registry.update(oldest.instanceId, { readsPrevious: false });
      await completing;
      expect(pair.reads).toBe('target');
      expect(await redis.get('stale')).toBeDefined();
    });

    it('takes over the reconciliation when the oldest replica dies before doing it', async () => {
      const { database, redis, pair } = sharedPair();
      await seed(redis, [aSession({ user, sid: 'stale' })]);
      const oldest = aReplica({
        startedAt: past(60_000),
        sessionCache: { backend: 'redis', version: 7, previous: 'database', readsPrevious: true },
      });
      const { handover, registry } = handoverWith(oldest);
      const completing = handover.complete(pair, 7);
      await pause(100);
      registry.others = [];
      await completing;
      expect(await redis.get('stale')).toBeUndefined();
      expect(database.calls).toContain('entries');
    });

    it('waits for a replica that has not switched, but only up to the limit: then leaves it behind', async () => {
      const { pair } = sharedPair();
      const late = aReplica({ sessionCache: { backend: 'database', version: 6 } });
      const { handover } = handoverWith(late);
      const started = Date.now();
      await handover.complete(pair, 7);
      // handoverLimitMs(FAST_TIMINGS) = max(4 x 25, 3 x 25) = 100 ms.
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      expect(pair.reads).toBe('target');
    });

    it('stops at shutdown, writing both backends until the end', async () => {
      const { pair } = sharedPair();
      const { handover } = handoverWith(
        aReplica({
          sessionCache: { backend: 'redis', version: 7, previous: 'database', readsPrevious: true },
          startedAt: past(60_000),
        }),
      );
      const completing = handover.complete(pair, 7);
      await pause(50);
      handover.beforeApplicationShutdown();
      await expect(completing).rejects.toBeInstanceOf(HandoverAborted);
      expect(pair.reads).toBe('source');
    });
  });
});

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await pause(5);
  }
}
