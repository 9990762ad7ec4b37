import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import { UserSessions } from '../../src/session-cache/user-sessions.js';
import { aSession, seed } from '../factories/sessions.js';
import { aUser } from '../factories/users.js';

// A user's own sessions (GET/DELETE /api/auth/sessions, revocation on password change) through
// the per-user index, on the memory backend; session-store-contract runs the index itself on
// every backend.

const HOUR_MS = 3_600_000;

describe('UserSessions', () => {
  const alice = aUser();
  const bob = aUser();
  let backend: MemorySessionBackend;
  let sessions: UserSessions;
  let absoluteTimeoutMs: number;

  beforeEach(() => {
    backend = new MemorySessionBackend();
    absoluteTimeoutMs = 24 * HOUR_MS;
    sessions = new UserSessions({
      backend: () => backend,
      absoluteTimeoutMs: () => absoluteTimeoutMs,
    });
  });

  it("lists only the user's live sessions, oldest first", async () => {
    const now = Date.now();
    const newest = aSession({ user: alice, createdAt: now - 1000 });
    const oldest = aSession({ user: alice, createdAt: now - 3 * HOUR_MS });
    const expired = aSession({ user: alice, expiresInMs: -1 });
    await seed(backend, [newest, aSession({ user: bob }), oldest, expired]);
    expect((await sessions.list(alice.id)).map((session) => session.sid)).toEqual([
      oldest.sid,
      newest.sid,
    ]);
  });

  it('drops a session past a tightened absolute timeout from the list at once', async () => {
    const old = aSession({ user: alice, createdAt: Date.now() - 2 * HOUR_MS });
    const recent = aSession({ user: alice });
    await seed(backend, [old, recent]);
    absoluteTimeoutMs = HOUR_MS;
    expect((await sessions.list(alice.id)).map((session) => session.sid)).toEqual([recent.sid]);
  });

  it('ends every session of the user but the caller’s own, and no one else’s', async () => {
    const own = aSession({ user: alice });
    const others = [aSession({ user: alice }), aSession({ user: alice })];
    const bobs = aSession({ user: bob });
    await seed(backend, [own, ...others, bobs]);
    expect(await sessions.destroyAll(alice.id, own.sid)).toBe(2);
    expect((await sessions.list(alice.id)).map((session) => session.sid)).toEqual([own.sid]);
    expect(await backend.get(bobs.sid)).toEqual(bobs);
  });

  it('refuses to end a session of another user (an id guessed or leaked)', async () => {
    const bobs = aSession({ user: bob });
    await seed(backend, [bobs]);
    expect(await sessions.destroy(alice.id, bobs.sid)).toBe(false);
    expect(await backend.get(bobs.sid)).toEqual(bobs);
    expect(await sessions.destroy(bob.id, bobs.sid)).toBe(true);
    expect(await backend.get(bobs.sid)).toBeUndefined();
  });

  it('uses the backend in force at each call (a swap in between)', async () => {
    const swappedTo = new MemorySessionBackend();
    const moved = aSession({ user: alice });
    await seed(swappedTo, [moved]);
    backend = swappedTo;
    expect((await sessions.list(alice.id)).map((session) => session.sid)).toEqual([moved.sid]);
  });
});
