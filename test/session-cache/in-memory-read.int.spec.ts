import type { SessionBackend, StoredSession } from '../../src/session-cache/session-backend.js';
import { backendOfSuite, backendsUnderTest } from './support/backends-under-test.js';

// A read that process memory answers (the memory backend, a hit in the database backend's read
// cache) waits for the event loop's check phase, then looks the session up
// (src/session-cache/in-memory-read.ts). Two things are held here:
// - the wait is the check phase, not a microtask or a tick: only that lets a loaded server read
//   every ready socket before it answers any, which is what the wait is for;
// - the lookup comes after the wait, so the wait never makes a read staler: a session this
//   process ends or changes meanwhile is answered ended or changed.
// (A read-cached PostgreSQL backend is left out: there the end is a statement in flight on another
// connection, and which of the two the database runs first is not this code's to decide.)

const HOUR = 3_600_000;
const IN_MEMORY = new Set(['memory', 'database on SQLite, read-cached']);

function session(sid: string, data: string): StoredSession {
  return { sid, data, userId: 'u1', expiresAt: Date.now() + HOUR, lastSeenAt: Date.now() };
}

for (const [name, describeBackend, create] of backendsUnderTest) {
  if (!IN_MEMORY.has(name)) continue;
  describeBackend(`a session read answered from memory (${name})`, () => {
    const backendOf = backendOfSuite(create);
    let backend: SessionBackend;

    beforeEach(async () => {
      backend = backendOf();
      await backend.clear();
      await backend.put(session('s1', '{"step":1}'));
      // Read once, so that a read-cached backend answers the next one from its cache.
      expect(await backend.get('s1')).toMatchObject({ data: '{"step":1}' });
    });

    it('is answered on the check phase, after pending ticks and microtasks', async () => {
      const order: string[] = [];
      setImmediate(() => order.push('check phase, queued before the read'));
      const reading = backend.get('s1').then((stored) => {
        order.push('answered');
        return stored;
      });
      process.nextTick(() => order.push('tick'));
      await Promise.resolve();
      order.push('microtask');
      setImmediate(() => order.push('check phase, queued after the read'));
      expect(await reading).toMatchObject({ data: '{"step":1}' });
      await new Promise((resolve) => setImmediate(resolve));
      // The tick and the microtask run in either order (it depends on what called the test).
      expect([...order.slice(0, 2)].sort()).toEqual(['microtask', 'tick']);
      expect(order.slice(2)).toEqual([
        'check phase, queued before the read',
        'answered',
        'check phase, queued after the read',
      ]);
    });

    it('a session ended while the read waits is answered ended', async () => {
      const reading = backend.get('s1');
      await backend.destroy('s1');
      expect(await reading).toBeUndefined();
    });

    it('a session changed while the read waits is answered changed', async () => {
      const reading = backend.get('s1');
      expect(await backend.update(session('s1', '{"step":2}'))).toBe(true);
      expect(await reading).toMatchObject({ sid: 's1', data: '{"step":2}' });
    });

    it('parallel reads each get their own copy of the session', async () => {
      const [first, second] = await Promise.all([backend.get('s1'), backend.get('s1')]);
      expect(first).toEqual(second);
      first!.data = 'changed by one request';
      expect(second!.data).toBe('{"step":1}');
      expect((await backend.get('s1'))!.data).toBe('{"step":1}');
    });
  });
}
