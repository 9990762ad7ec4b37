import type { SessionData } from 'express-session';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionBackend, StoredSession } from '../../src/session-cache/session-backend.js';
import { KeelSessionStore } from '../../src/session-cache/session-store.js';
import { UserSessions } from '../../src/session-cache/user-sessions.js';
import { backendOfSuite, backendsUnderTest } from './support/backends-under-test.js';
import { COOKIE_ATTRIBUTES, sessionWith, storeCalls } from './support/session-fixtures.js';

// The express-session store contract, run against every backend Keel can swap to. Real
// services only: SQLite in a temporary file, a fresh PostgreSQL database, the machine's Redis
// under a prefix of this run's own.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

for (const [name, describeBackend, create] of backendsUnderTest) {
  describeBackend(`session store contract on ${name}`, () => {
    const backendOf = backendOfSuite(create);
    let backend: SessionBackend;
    /** Runtime settings as the store reads them; tests change them like an admin would. */
    const timeouts = { idleMs: HOUR, absoluteMs: 24 * HOUR };
    const storeWith = (touchThrottleMs?: number) =>
      new KeelSessionStore({
        backend: () => backend,
        cookie: COOKIE_ATTRIBUTES,
        idleTimeoutMs: () => timeouts.idleMs,
        absoluteTimeoutMs: () => timeouts.absoluteMs,
        touchThrottleMs,
      });
    let store: ReturnType<typeof storeCalls>;

    beforeEach(async () => {
      backend = backendOf();
      timeouts.idleMs = HOUR;
      timeouts.absoluteMs = 24 * HOUR;
      store = storeCalls(storeWith(0));
      await backend.clear();
    });

    it('reads back a saved session with its data and deadlines; a missing one is null, not an error', async () => {
      const before = Date.now();
      await store.set('s1', sessionWith({ userId: 'u1', cart: [1, 2], note: 'é ✓' }));
      const after = Date.now();

      const got = await store.get('s1');
      expect(got).toMatchObject({ userId: 'u1', cart: [1, 2], note: 'é ✓' });
      expect(got?.cookie).toMatchObject({ httpOnly: true, path: '/' });
      expect(got?.createdAt).toBeGreaterThanOrEqual(before);
      expect(got?.createdAt).toBeLessThanOrEqual(after);
      expect(got?.absoluteExpiresAt).toBe((got?.createdAt ?? 0) + 24 * HOUR);
      expect(got?.storedExpiresAt).toBeGreaterThanOrEqual(before + HOUR);
      expect(got?.storedExpiresAt).toBeLessThanOrEqual(after + HOUR);

      const stored = await backend.get('s1');
      expect(stored).toMatchObject({ sid: 's1', userId: 'u1', expiresAt: got?.storedExpiresAt });
      expect(JSON.parse(stored?.data ?? '{}')).not.toHaveProperty('storedExpiresAt');

      await expect(store.get('never-issued')).resolves.toBeNull();
    });

    it('replaces a session on save and keeps its first deadline; an unchanged one reads identically', async () => {
      await store.set('s1', sessionWith({ userId: 'u1', step: 1 }));
      const first = await store.get('s1');
      await sleep(15);
      await store.set('s1', { ...first!, step: 2 } as SessionData);

      const second = await store.get('s1');
      expect(second).toMatchObject({ step: 2 });
      expect(second?.createdAt).toBe(first?.createdAt);
      expect(second?.absoluteExpiresAt).toBe(first?.absoluteExpiresAt);
      // Read twice without a write in between: equal objects, so express-session's change hash
      // (which includes storedExpiresAt) sees an unmodified session.
      expect(await store.get('s1')).toEqual(second);
      expect(await backend.length()).toBe(1);
    });

    it('hands each read its own copy: a request that changes its session changes no other', async () => {
      await store.set('s1', sessionWith({ userId: 'u1', step: 1 }));
      // Read once first, so that a read cache answers the two below from memory.
      await backend.get('s1');
      const [first, second] = await Promise.all([backend.get('s1'), backend.get('s1')]);
      expect(first).toEqual(second);
      const stored = first!.data;
      first!.data = 'changed by one request';
      first!.expiresAt = 0;
      expect(second!.data).toBe(stored);
      expect(await backend.get('s1')).toEqual(second);
    });

    it('destroys a session; destroying an unknown one is not an error', async () => {
      await store.set('s1', sessionWith({ userId: 'u1' }));
      await store.set('s2', sessionWith({ userId: 'u1' }));
      await store.destroy('s1');
      await store.destroy('never-issued');
      expect(await store.get('s1')).toBeNull();
      expect(await store.get('s2')).not.toBeNull();
    });

    it('counts, lists and clears exactly the live sessions', async () => {
      await store.set('a', sessionWith({ userId: 'u1', n: 1 }));
      await store.set('b', sessionWith({ userId: 'u2', n: 2 }));
      timeouts.idleMs = 100;
      await store.set('short', sessionWith({ userId: 'u1', n: 3 }));
      await sleep(150);

      expect(await store.length()).toBe(2);
      const all = (await store.all()) as unknown as Record<string, { n: number }>;
      expect(Object.keys(all).sort()).toEqual(['a', 'b']);
      expect(all.a.n).toBe(1);

      await store.clear();
      expect(await store.length()).toBe(0);
      expect(await store.get('a')).toBeNull();
    });

    it('forgets a session at its idle timeout', async () => {
      timeouts.idleMs = 300;
      await store.set('s1', sessionWith({ userId: 'u1' }));
      expect(await store.get('s1')).not.toBeNull();
      await sleep(450);
      expect(await store.get('s1')).toBeNull();
      expect(await backend.get('s1')).toBeUndefined();
      expect(await backend.length()).toBe(0);
      expect(await backend.listByUser('u1')).toEqual([]);
    });

    it('extends the idle expiry on touch', async () => {
      timeouts.idleMs = 600;
      await store.set('s1', sessionWith({ userId: 'u1' }));
      await sleep(350);
      const before = Date.now();
      await store.touch('s1', (await store.get('s1'))!);
      await sleep(350);
      // 700 ms after the save, past its first expiry: alive only because the touch moved it.
      const got = await store.get('s1');
      expect(got).not.toBeNull();
      expect(got?.storedExpiresAt).toBeGreaterThanOrEqual(before + 600);
      // The index follows the touched expiry, so the user still sees the session.
      expect((await backend.listByUser('u1')).map((s) => s.sid)).toEqual(['s1']);
    });

    it('never extends a session past its absolute deadline, by touch or by save', async () => {
      timeouts.idleMs = 10 * MINUTE;
      timeouts.absoluteMs = 1000;
      await store.set('s1', sessionWith({ userId: 'u1' }));
      const first = (await store.get('s1'))!;
      const deadline = first.absoluteExpiresAt;
      expect(first.storedExpiresAt).toBe(deadline);

      await sleep(300);
      await store.touch('s1', { ...first, storedExpiresAt: 0 }); // past any throttle
      expect((await backend.get('s1'))?.expiresAt).toBe(deadline);
      await store.set('s1', { ...(await store.get('s1'))!, visits: 2 } as SessionData);
      expect((await backend.get('s1'))?.expiresAt).toBe(deadline);

      await sleep(deadline - Date.now() + 100);
      expect(await store.get('s1')).toBeNull();
      expect(await backend.get('s1')).toBeUndefined();

      // Saving a session whose deadline has passed stores nothing.
      await store.set('s1', first);
      expect(await backend.get('s1')).toBeUndefined();
    });

    it('ends existing sessions when the absolute timeout is tightened', async () => {
      await store.set('s1', sessionWith({ userId: 'u1' }));
      timeouts.absoluteMs = 200;
      await sleep(250);
      expect(await store.get('s1')).toBeNull();
      expect(await backend.get('s1')).toBeUndefined();
    });

    it('skips the backend write for a touch within the throttle, and writes outside it', async () => {
      const throttled = storeCalls(storeWith(10_000));
      await throttled.set('s1', sessionWith({ userId: 'u1' }));
      const loaded = (await throttled.get('s1'))!;
      await sleep(30);

      await throttled.touch('s1', loaded);
      expect((await backend.get('s1'))?.expiresAt).toBe(loaded.storedExpiresAt);

      await store.touch('s1', loaded); // throttle 0
      expect((await backend.get('s1'))?.expiresAt).toBeGreaterThan(loaded.storedExpiresAt);

      // A shorter idle timeout is applied at the next touch, throttle or not.
      timeouts.idleMs = MINUTE;
      await throttled.touch('s1', (await throttled.get('s1'))!);
      expect((await backend.get('s1'))?.expiresAt).toBeLessThanOrEqual(Date.now() + MINUTE);
    });

    it("indexes sessions by user: lists and revokes a user's sessions and no one else's", async () => {
      const users = new UserSessions({
        backend: () => backend,
        absoluteTimeoutMs: () => timeouts.absoluteMs,
      });
      for (const sid of ['a1', 'a2', 'a3']) await store.set(sid, sessionWith({ userId: 'alice' }));
      await store.set('b1', sessionWith({ userId: 'bob' }));
      const sidsOf = async (userId: string) =>
        (await backend.listByUser(userId)).map((session) => session.sid).sort();

      expect(await sidsOf('alice')).toEqual(['a1', 'a2', 'a3']);
      expect((await users.list('alice')).map((s) => s.data.userId)).toEqual([
        'alice',
        'alice',
        'alice',
      ]);

      // The index follows a session that changes hands, and one that logs out.
      await store.set('a3', { ...(await store.get('a3'))!, userId: 'bob' });
      const loggedOut = { ...(await store.get('a2'))! } as Record<string, unknown>;
      delete loggedOut.userId;
      await store.set('a2', loggedOut as never);
      expect(await sidsOf('alice')).toEqual(['a1']);
      expect(await sidsOf('bob')).toEqual(['a3', 'b1']);

      // Expired sessions are not listed.
      timeouts.idleMs = 100;
      await store.set('a4', sessionWith({ userId: 'alice' }));
      await sleep(150);
      expect(await sidsOf('alice')).toEqual(['a1']);

      // Revoke all of bob's sessions but his current one.
      expect(await backend.destroyByUser('bob', 'b1')).toEqual(['a3']);
      expect(await store.get('a3')).toBeNull();
      expect(await sidsOf('bob')).toEqual(['b1']);

      // One session by owner only.
      expect(await users.destroy('alice', 'b1')).toBe(false);
      expect(await store.get('b1')).not.toBeNull();
      expect(await users.destroy('bob', 'b1')).toBe(true);
      expect(await store.get('b1')).toBeNull();

      expect(await users.destroyAll('alice')).toBe(1);
      expect(await sidsOf('alice')).toEqual([]);
      expect(await store.get('a2')).not.toBeNull();
    });

    it('walks 2,500 live sessions page by page, each with its data and metadata', async () => {
      const expiresAt = Date.now() + HOUR;
      const sessions: StoredSession[] = Array.from({ length: 2500 }, (_, i) => ({
        sid: `sid-${String(i).padStart(5, '0')}`,
        data: JSON.stringify({ i }),
        userId: i % 10 === 0 ? `user-${i % 7}` : null,
        expiresAt: expiresAt + i,
        lastSeenAt: expiresAt - HOUR + i,
      }));
      for (let i = 0; i < sessions.length; i += 100) {
        await Promise.all(sessions.slice(i, i + 100).map((session) => backend.put(session)));
      }
      await backend.put({
        sid: 'expiring',
        data: '{}',
        userId: null,
        expiresAt: Date.now() + 100,
        lastSeenAt: Date.now(),
      });
      await sleep(150);

      const seen = new Map<string, StoredSession>();
      for await (const session of backend.entries()) seen.set(session.sid, session);
      expect(seen.size).toBe(2500);
      expect(seen.has('expiring')).toBe(false);
      for (const session of [sessions[0], sessions[1234], sessions[2499]]) {
        expect(seen.get(session.sid)).toEqual(session);
      }
      expect(await backend.length()).toBe(2500);
      expect(Object.keys((await store.all()) ?? {})).toHaveLength(2500);
    });

    it('never revives or stores an expired session through the backend', async () => {
      const now = Date.now();
      await backend.touch('never-issued', now + HOUR, now);
      expect(await backend.get('never-issued')).toBeUndefined();

      await backend.put({
        sid: 'past',
        data: '{}',
        userId: 'u1',
        expiresAt: now - 1,
        lastSeenAt: now,
      });
      expect(await backend.get('past')).toBeUndefined();

      await backend.put({
        sid: 's1',
        data: '{}',
        userId: 'u1',
        expiresAt: now + HOUR,
        lastSeenAt: now,
      });
      await backend.touch('s1', Date.now() - 1, now);
      expect(await backend.get('s1')).toBeUndefined();
      expect(await backend.listByUser('u1')).toEqual([]);
    });

    it('ending is final: a session loaded before it was destroyed is never written back', async () => {
      await store.set('s1', sessionWith({ userId: 'u1', step: 1 }));
      // A request loads it, another one ends it (logout, revocation), the first one saves.
      const loaded = (await store.get('s1'))!;
      await store.destroy('s1');
      await store.set('s1', { ...loaded, step: 2 } as SessionData);
      await store.touch('s1', { ...loaded, storedExpiresAt: 0 }); // past any throttle
      expect(await store.get('s1')).toBeNull();
      expect(await backend.get('s1')).toBeUndefined();
      expect(await backend.listByUser('u1')).toEqual([]);

      // The same through a user-wide revocation.
      await store.set('s2', sessionWith({ userId: 'u1' }));
      const loaded2 = (await store.get('s2'))!;
      expect(await backend.destroyByUser('u1')).toEqual(['s2']);
      await store.set('s2', { ...loaded2, step: 2 } as SessionData);
      expect(await backend.get('s2')).toBeUndefined();

      // The backend's own conditional write says whether the session was there.
      const now = Date.now();
      const s3 = { sid: 's3', data: '{}', userId: 'u1', expiresAt: now + HOUR, lastSeenAt: now };
      expect(await backend.update(s3)).toBe(false);
      expect(await backend.get('s3')).toBeUndefined();
      await backend.put(s3);
      expect(await backend.update({ ...s3, data: '{"step":2}' })).toBe(true);
      expect((await backend.get('s3'))?.data).toBe('{"step":2}');
    });

    it('never stores a session that is not signed in', async () => {
      await store.set('anon', sessionWith({ note: 'anonymous' }));
      expect(await store.get('anon')).toBeNull();
      expect(await backend.length()).toBe(0);
    });

    it('keeps lastSeenAt beside the session: set on save, moved by touch, never in the data', async () => {
      const before = Date.now();
      await store.set('s1', sessionWith({ userId: 'u1' }));
      const saved = (await backend.get('s1'))!;
      expect(saved.lastSeenAt).toBeGreaterThanOrEqual(before);
      await sleep(20);
      const touchedAt = Date.now();
      await store.touch('s1', { ...(await store.get('s1'))!, storedExpiresAt: 0 });
      const touched = (await backend.get('s1'))!;
      expect(touched.lastSeenAt).toBeGreaterThanOrEqual(touchedAt);
      expect(touched.data).toBe(saved.data);
      expect((await backend.listByUser('u1'))[0].lastSeenAt).toBe(touched.lastSeenAt);
    });

    it('bulk: reads the live ones of many ids; inserts only what it lacks, never over a newer one', async () => {
      const now = Date.now();
      const one = (sid: string, fields: Partial<StoredSession> = {}): StoredSession => ({
        ...{ sid, data: `{"sid":"${sid}"}`, userId: 'u1', expiresAt: now + HOUR, lastSeenAt: now },
        ...fields,
      });
      await backend.put(one('held', { data: '{"newer":true}', lastSeenAt: now + 5 }));
      await backend.put(one('stale', { expiresAt: Date.now() + 100 }));
      await sleep(150); // 'stale' has expired (a database row not swept yet): no session

      const batch = [one('held'), one('stale'), one('fresh', { userId: null }), one('past')];
      batch[3].expiresAt = now - 1;
      expect((await backend.putManyIfAbsent(batch)).sort()).toEqual(['fresh', 'stale']);
      expect(await backend.get('held')).toEqual(
        one('held', { data: '{"newer":true}', lastSeenAt: now + 5 }),
      );
      expect(await backend.get('stale')).toEqual(one('stale'));
      expect(await backend.get('fresh')).toEqual(one('fresh', { userId: null }));
      expect(await backend.get('past')).toBeUndefined();
      // The index follows what was inserted.
      expect((await backend.listByUser('u1')).map((s) => s.sid).sort()).toEqual(['held', 'stale']);

      const read = await backend.getMany(['held', 'fresh', 'past', 'never-issued']);
      expect(read.map((s) => s.sid).sort()).toEqual(['fresh', 'held']);
      expect(read.find((s) => s.sid === 'fresh')).toEqual(one('fresh', { userId: null }));
      expect(await backend.getMany([])).toEqual([]);
      expect(await backend.putManyIfAbsent([])).toEqual([]);
      // Once inserted, a second bulk write of the same ids changes nothing.
      expect(await backend.putManyIfAbsent([one('fresh', { data: '{}' })])).toEqual([]);
      expect((await backend.get('fresh'))?.data).toBe('{"sid":"fresh"}');
    });

    it('bulk: 2,000 sessions of 100 users in one write and one read', async () => {
      const now = Date.now();
      const sessions: StoredSession[] = Array.from({ length: 2000 }, (_, i) => ({
        sid: `bulk-${i}`,
        data: JSON.stringify({ i }),
        userId: `user-${i % 100}`,
        expiresAt: now + HOUR + i,
        lastSeenAt: now,
      }));
      expect(await backend.putManyIfAbsent(sessions)).toHaveLength(2000);
      expect(await backend.length()).toBe(2000);
      const read = await backend.getMany(sessions.map((session) => session.sid));
      expect(read.sort((a, b) => a.expiresAt - b.expiresAt)).toEqual(sessions);
      expect((await backend.listByUser('user-7')).map((s) => s.sid).sort()).toHaveLength(20);
    });

    it('answers ping, and reports whether it is shared between processes', async () => {
      await expect(backend.ping()).resolves.toBeUndefined();
      expect(backend.shared).toBe(name !== 'memory');
    });
  });
}
