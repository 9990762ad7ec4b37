import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import { MigratingBackend } from '../../src/session-cache/migrating-backend.js';
import type { SessionBackend, StoredSession } from '../../src/session-cache/session-backend.js';
import { aSession, FakeSharedBackend, seed } from '../factories/sessions.js';
import { aUser } from '../factories/users.js';
import { backendOfSuite, backendsUnderTest } from './support/backends-under-test.js';

// The swap's bulk copy (MigratingBackend.migrateMany) into every real backend, at its edges:
// what happens to a session while its batch is in flight. The swap around it (revert on
// failure) is in session-swap.spec.ts and failed-swap.e2e.spec.ts.

const user = aUser();

/** Holds `backend`'s next bulk writes until `release()`; `reached` resolves once one waits. */
function holdBulkWrites(backend: SessionBackend) {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const write = backend.putManyIfAbsent.bind(backend);
  Object.assign(backend, {
    putManyIfAbsent: async (sessions: readonly StoredSession[]) => {
      reach();
      await open;
      return write(sessions);
    },
  });
  return { reached, release, restore: () => Object.assign(backend, { putManyIfAbsent: write }) };
}

/** Lets calls queued behind the batch's locks start (they must wait, not run). */
const aMoment = () => new Promise((resolve) => setTimeout(resolve, 30));

for (const [name, describeBackend, create] of backendsUnderTest) {
  describeBackend(`bulk copy into ${name}`, () => {
    const backend = backendOfSuite(create);
    let target: SessionBackend;
    beforeEach(async () => {
      target = backend();
      await target.clear();
    });

    it('a session ended while its batch is in flight stays ended; one ended before is not copied', async () => {
      const source = new MemorySessionBackend();
      const [a, b, c, d] = Array.from({ length: 4 }, () => aSession({ user }));
      await seed(source, [a, b, c, d]);
      const pair = new MigratingBackend(source, target);
      await pair.destroy(d.sid); // after the walk read it, before its batch ran

      const held = holdBulkWrites(target);
      const copying = pair.migrateMany([a.sid, b.sid, c.sid, d.sid]);
      await held.reached;
      // A logout and a user-wide revocation while the batch is being written: they wait for it.
      const loggedOut = pair.destroy(b.sid);
      const revoked = pair.destroyByUser(user.id, a.sid);
      await aMoment();
      held.release();
      expect(await copying).toBe(3);
      await Promise.all([loggedOut, revoked]);
      held.restore();

      for (const ended of [b, c, d]) {
        expect(await target.get(ended.sid)).toBeUndefined();
        expect(await source.get(ended.sid)).toBeUndefined();
      }
      expect(await target.get(a.sid)).toEqual(a);
      expect((await target.listByUser(user.id)).map((s) => s.sid)).toEqual([a.sid]);
    });

    it('a session written during the copy is never overwritten by it', async () => {
      const source = new MemorySessionBackend();
      const [a, b] = [aSession({ user }), aSession({ user })];
      await seed(source, [a, b]);
      const pair = new MigratingBackend(source, target);
      // Written (newer) in the target before the batch reaches it: left as it is.
      const newerA = { ...a, data: '{"newer":"a"}', lastSeenAt: a.lastSeenAt + 1 };
      await target.put(newerA);

      const held = holdBulkWrites(target);
      const copying = pair.migrateMany([a.sid, b.sid]);
      await held.reached;
      // Saved by a request while its batch is in flight: lands after the copy, in both.
      const newerB = { ...b, data: '{"newer":"b"}', lastSeenAt: b.lastSeenAt + 1 };
      const saved = pair.update(newerB);
      await aMoment();
      held.release();
      expect(await copying).toBe(1);
      expect(await saved).toBe(true);
      held.restore();

      expect(await target.get(a.sid)).toEqual(newerA);
      expect(await target.get(b.sid)).toEqual(newerB);
      expect(await source.get(b.sid)).toEqual(newerB);
    });

    it('from a shared source: what another replica ends or changes during the batch is followed', async () => {
      const source = new FakeSharedBackend('database');
      const [a, b, c] = Array.from({ length: 3 }, () => aSession({ user }));
      await seed(source, [a, b, c]);
      const pair = new MigratingBackend(source, target);
      pair.reads = 'target-then-source';

      const held = holdBulkWrites(target);
      const copying = pair.migrateMany([a.sid, b.sid, c.sid]);
      await held.reached;
      // Another replica (not through this pair, so no lock) ends b and changes c in the source.
      await source.sibling().destroy(b.sid);
      const newerC = { ...c, data: '{"newer":"c"}' };
      await source.sibling().update(newerC);
      held.release();
      expect(await copying).toBe(2);
      held.restore();

      expect(await target.get(a.sid)).toEqual(a);
      expect(await target.get(b.sid)).toBeUndefined();
      expect(await target.get(c.sid)).toEqual(newerC);
    });

    it('a target that fails mid-batch rejects the batch and lets go of its sessions', async () => {
      const source = new MemorySessionBackend();
      const [a, b] = [aSession({ user }), aSession({ user })];
      await seed(source, [a, b]);
      const pair = new MigratingBackend(source, target);
      const write = target.putManyIfAbsent.bind(target);
      Object.assign(target, {
        putManyIfAbsent: () => Promise.reject(new Error('connection lost (test)')),
      });
      await expect(pair.migrateMany([a.sid, b.sid])).rejects.toThrow(/connection lost/);
      Object.assign(target, { putManyIfAbsent: write });
      // Not stuck behind the failed batch: the sessions' next calls run.
      await pair.destroy(a.sid);
      expect(await source.get(a.sid)).toBeUndefined();
      expect(await pair.get(b.sid)).toEqual(b);
    });
  });
}
