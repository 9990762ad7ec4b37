import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import type { StoredSession } from '../../src/session-cache/session-backend.js';

const HOUR = 3_600_000;

function session(sid: string, data = '{}', userId: string | null = null): StoredSession {
  return { sid, data, userId, expiresAt: Date.now() + HOUR, lastSeenAt: Date.now() };
}

/** A full garbage collection, when this process can be given one (else undefined). */
function collectGarbage(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

describe('memory session backend at its bound', () => {
  it('evicts the least recently used session when full, and says so for each one', async () => {
    let evicted = 0;
    const backend = new MemorySessionBackend({ maxEntries: 3, onEvict: () => (evicted += 1) });
    await backend.put(session('a'));
    await backend.put(session('b'));
    await backend.put(session('c'));
    await backend.get('a'); // a is now the most recently used; b the least
    await backend.put(session('d'));

    expect(await backend.length()).toBe(3);
    expect(await backend.get('b')).toBeUndefined();
    for (const sid of ['a', 'c', 'd']) expect(await backend.get(sid)).toBeDefined();
    // Only the eviction counts: not a destroy, not a replacement.
    await backend.destroy('a');
    await backend.put(session('c', '{"n":2}'));
    expect(evicted).toBe(1);
  });

  it("keeps the user index in step with evictions, so a user's list never names a lost session", async () => {
    const backend = new MemorySessionBackend({ maxEntries: 2 });
    await backend.put(session('a1', '{}', 'alice'));
    await backend.put(session('b1', '{}', 'bob'));
    await backend.put(session('a2', '{}', 'alice')); // evicts a1

    expect((await backend.listByUser('alice')).map((s) => s.sid)).toEqual(['a2']);
    expect(await backend.destroyByUser('alice')).toEqual(['a2']);
    expect((await backend.listByUser('bob')).map((s) => s.sid)).toEqual(['b1']);
  });

  it('holds no more than its max entries, and its heap stays bounded, after 5x that many sessions', async () => {
    const maxEntries = 1000;
    const entryBytes = 20_000; // a 20 kB session: 5,000 of them would be ~100 MB unbounded
    const gc = collectGarbage();
    const backend = new MemorySessionBackend({ maxEntries });
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    for (let i = 0; i < 5 * maxEntries; i++) {
      // Distinct flat strings, so the heap really holds each one it keeps.
      const data = randomBytes(entryBytes / 2).toString('hex');
      await backend.put(session(`sid-${i}`, data, `user-${i % 50}`));
    }

    expect(await backend.length()).toBe(maxEntries);
    // The user index shrinks with evictions too (white-box: nothing public shows a leak there).
    const index = (backend as unknown as { sidsByUser: Map<string, Set<string>> }).sidsByUser;
    const indexed = [...index.values()].reduce((sum, sids) => sum + sids.size, 0);
    expect(indexed).toBe(maxEntries);
    // The newest survive; the oldest went first.
    expect(await backend.get(`sid-${5 * maxEntries - 1}`)).toBeDefined();
    expect(await backend.get('sid-0')).toBeUndefined();
    expect(await backend.get(`sid-${4 * maxEntries - 1}`)).toBeUndefined();

    gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    const keptMb = (maxEntries * entryBytes) / 1e6; // 20 MB
    const unboundedMb = (5 * maxEntries * entryBytes) / 1e6; // 100 MB
    // With a GC the growth is about what is kept; without one, garbage can still be around,
    // so only the coarse bound (well under what storing everything would take) holds.
    expect(grownMb).toBeLessThan(gc ? keptMb * 1.5 : unboundedMb * 0.8);
    await backend.close();
    expect(await backend.length()).toBe(0);
  });
});
